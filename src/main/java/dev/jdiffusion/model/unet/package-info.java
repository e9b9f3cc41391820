/**
 * The conditional U-Net of Stable Diffusion 1.x / 2.x and LCM, as diffusers' {@code UNet2DConditionModel} (0.25.1)
 * computes it. Entry points: {@link dev.jdiffusion.model.unet.UNet2DConditionModel#load} and
 * {@link dev.jdiffusion.model.unet.UNet2DConditionModel#forward}; the configuration is
 * {@link dev.jdiffusion.model.unet.UNetConfig}. Its layers shared with the autoencoders live here once:
 * {@link dev.jdiffusion.model.unet.Conv}, {@link dev.jdiffusion.model.unet.GroupNormLayer},
 * {@link dev.jdiffusion.model.unet.ResnetBlock2D} and {@link dev.jdiffusion.model.unet.MidBlock} (the VAE and TAESD
 * load them with {@code load(TensorSource, ...)}, shapes read from the file).
 *
 * <p>Notes on diffusers' semantics reproduced here:
 * <ul>
 *   <li>{@code attention_head_dim} is read as the number of heads per level (diffusers 0.25.1 does
 *       {@code num_attention_heads = num_attention_heads or attention_head_dim}); head dim = channels / heads.
 *       Up levels use the list reversed; the mid block uses the last entry. A non-null {@code num_attention_heads}
 *       is rejected, as diffusers rejects it.</li>
 *   <li>Transformer2DModel's GroupNorm uses eps 1e-6 (not {@code norm_eps}); its LayerNorms use 1e-5.</li>
 *   <li>When a latent side is not a multiple of 2^(levels-1), each up-sampler resizes (nearest) to the size of the
 *       skip connection it meets next, as diffusers passes {@code upsample_size}.</li>
 *   <li>{@code upcast_attention} changes nothing: attention is always float32.</li>
 *   <li>Single-file checkpoints carry no config: {@link dev.jdiffusion.model.unet.UNetConfig#infer} reads what shapes
 *       tell and assumes Stable Diffusion for the rest (32 groups; 8 heads, or head dim 64 when cross_attention_dim
 *       is 1024).</li>
 * </ul>
 */
package dev.jdiffusion.model.unet;

package dev.jdiffusion.model.vae;

import dev.jdiffusion.tensor.Tensor;

/**
 * What a pipeline needs from any autoencoder (the full {@link AutoencoderKL} or a TAESD-family tiny one): images in
 * [0, 1] to the diffusion model's latents and back. The latents are those the U-Net works on (for the KL VAE,
 * already multiplied by its scaling factor).
 */
public interface ImageAutoencoder extends AutoCloseable {
    /** Channels of the diffusion model's latents (4 for SD). */
    int latentChannels();

    /** Image pixels per latent pixel along one side (8 for SD). */
    int spatialFactor();

    /** True when {@link #encodeImage} is available (the encoder weights were loaded). */
    boolean canEncode();

    /** True when {@link #decodeLatents} is available (the decoder weights were loaded). */
    boolean canDecode();

    /** Image [n, 3, H, W] in [0, 1] to latents [n, c, H/f, W/f] (deterministic: the mean for the KL VAE). */
    Tensor encodeImage(Tensor image01);

    /** Latents [n, c, h, w] to an image [n, 3, h*f, w*f] clamped to [0, 1]. */
    Tensor decodeLatents(Tensor latents);

    /** Releases the files this autoencoder owns (when it was opened from a path); a no-op otherwise. */
    @Override
    default void close() {}
}

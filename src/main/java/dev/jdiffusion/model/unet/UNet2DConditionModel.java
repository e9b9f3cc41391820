package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.TensorSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * The conditional U-Net of Stable Diffusion, as diffusers' {@code UNet2DConditionModel} (0.25.1) defines it:
 * <pre>
 * timestep -> time_proj (sinusoidal) [+ cond_proj(timestep_cond)] -> time_embedding (linear, SiLU, linear) = temb
 * sample -> conv_in -> down_blocks (resnets [+ transformers], downsample; outputs kept as skips)
 *        -> mid_block (resnet, transformer, resnet)
 *        -> up_blocks (concat skip, resnet [+ transformer]; upsample) -> GroupNorm+SiLU -> conv_out -> noise_pred
 * </pre>
 * Weights stay in the mapped files (F32, F16 or BF16); every tensor is checked against the config at load.
 * Thread-safe for concurrent {@link #forward} calls (no mutable state).
 */
public final class UNet2DConditionModel {
    private final UNetConfig config;
    private final TimestepEmbedding timeEmbedding;
    /** SDXL's add_embedding (linear_1, SiLU, linear_2 over text_embeds + embedded time ids); null without. */
    private final Linear addLinear1, addLinear2;
    private final Conv convIn, convOut;
    private final DownBlock[] down;
    private final MidBlock mid;
    private final UpBlock[] up;
    private final float[] normOutW, normOutB;

    private UNet2DConditionModel(UNetConfig c, UNetWeights w) {
        this.config = c;
        int n = c.levels(), ted = c.timeEmbedDim();
        int[] boc = c.blockOutChannels();
        convIn = Conv.same(w, "conv_in", c.inChannels(), boc[0], c.convInKernel());
        timeEmbedding = new TimestepEmbedding(w, c);
        addLinear1 = c.hasAddedConditioning() ? new Linear(w, "add_embedding.linear_1", c.addEmbedInputDim(), ted, true) : null;
        addLinear2 = c.hasAddedConditioning() ? new Linear(w, "add_embedding.linear_2", ted, ted, true) : null;
        down = new DownBlock[n];
        for (int i = 0; i < n; i++) down[i] = new DownBlock(w, c, i, i == 0 ? boc[0] : boc[i - 1], ted);
        mid = c.midBlock() ? new MidBlock(w, c, ted) : null;
        up = new UpBlock[n];
        for (int i = 0; i < n; i++) up[i] = new UpBlock(w, c, i, ted);
        normOutW = w.vector("conv_norm_out.weight", boc[0]);
        normOutB = w.vector("conv_norm_out.bias", boc[0]);
        convOut = Conv.same(w, "conv_out", boc[0], c.outChannels(), c.convOutKernel());
    }

    /**
     * Loads the U-Net from its tensors under diffusers' names and its {@code config.json}; with a null config
     * (single-file checkpoints) the config is inferred from the tensor shapes ({@link UNetConfig#infer}).
     * Every tensor is validated here: missing, mis-shaped and unexpected tensors are listed in one
     * {@link dev.jdiffusion.weights.ModelFormatException}.
     */
    public static UNet2DConditionModel load(TensorSource tensors, JsonNode configOrNull) {
        return load(tensors, UNetConfig.resolve(configOrNull, tensors));
    }

    /** Loads with an already resolved config. */
    public static UNet2DConditionModel load(TensorSource tensors, UNetConfig config) {
        UNetWeights w = new UNetWeights(tensors);
        UNet2DConditionModel m = new UNet2DConditionModel(config, w);
        w.finish(config);
        return m;
    }

    public UNetConfig config() { return config; }

    /**
     * The tensors (diffusers' names and the shapes this config implies) that {@link #load} reads for this config: the
     * exact set a matching checkpoint holds, found by building the model over no weights. For synthetic weights.
     */
    public static java.util.Map<String, long[]> tensorShapes(UNetConfig c) {
        UNetWeights w = new UNetWeights(new EmptySource());
        new UNet2DConditionModel(c, w);
        return w.requested();
    }

    /**
     * Predicts noise (or v) for a batch.
     *
     * @param sample               latents {@code [B, inChannels, h, w]}, any h, w >= 1
     * @param timesteps            one timestep per batch entry (or one for all)
     * @param encoderHiddenStates  text embeddings {@code [B, L, crossAttentionDim]}
     * @param timestepCondOrNull   LCM guidance embedding {@code [B, timeCondProjDim]} (see {@link #guidanceEmbedding}); null when none
     * @return {@code [B, outChannels, h, w]}
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor timestepCondOrNull) {
        return forward(sample, timesteps, encoderHiddenStates, timestepCondOrNull, null);
    }

    /** As {@link #forward(Tensor, float[], Tensor, Tensor)}, handing each top-level module's output (diffusers' names) to a probe. */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor timestepCondOrNull,
                          BiConsumer<String, Tensor> probe) {
        return forward(sample, timesteps, encoderHiddenStates, timestepCondOrNull, probe, null);
    }

    /**
     * As {@link #forward(Tensor, float[], Tensor, Tensor, BiConsumer)}, also telling moduleDone (when not null) the
     * diffusers name of each module once it has run and its weights are no longer needed in this pass:
     * {@code time_embedding}, {@code conv_in}, {@code down_blocks.i.resnets.j}, {@code down_blocks.i.attentions.j},
     * {@code down_blocks.i.downsamplers}, {@code mid_block.resnets.j}, {@code mid_block.attentions.0},
     * {@code up_blocks.i.resnets.j}, {@code up_blocks.i.attentions.j}, {@code up_blocks.i.upsamplers},
     * {@code conv_norm_out}, {@code conv_out}. A caller can drop those weights' pages from memory (low-memory mode).
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor timestepCondOrNull,
                          BiConsumer<String, Tensor> probe, java.util.function.Consumer<String> moduleDone) {
        return forward(sample, timesteps, encoderHiddenStates, timestepCondOrNull, null, probe, moduleDone, null);
    }

    /**
     * As {@link #forward(Tensor, float[], Tensor, Tensor, BiConsumer, java.util.function.Consumer)}, adding
     * residualsOrNull (e.g. a ControlNet's) where diffusers adds them: residual i to skip i once the down blocks have
     * run, the mid residual to the mid block's output.
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor timestepCondOrNull,
                          BiConsumer<String, Tensor> probe, java.util.function.Consumer<String> moduleDone,
                          UNetResiduals residualsOrNull) {
        return forward(sample, timesteps, encoderHiddenStates, timestepCondOrNull, null, probe, moduleDone, residualsOrNull);
    }

    /**
     * SDXL's added conditioning ({@code added_cond_kwargs}): the pooled, projected text embedding of the second text
     * encoder and the micro-conditioning time ids (original size, crop top-left, target size: 6 values; the refiner
     * uses 5, with an aesthetic score). Both have the U-Net's batch.
     *
     * @param textEmbeds {@code [B, projection_dim]}
     * @param timeIds    {@code [B, n]} with n x addition_time_embed_dim + projection_dim = the add_embedding input
     */
    public record AddedConditioning(Tensor textEmbeds, Tensor timeIds) {}

    /** As the residuals overload without residuals, with SDXL's added conditioning (see the full overload). */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor timestepCondOrNull,
                          AddedConditioning added, BiConsumer<String, Tensor> probe, java.util.function.Consumer<String> moduleDone) {
        return forward(sample, timesteps, encoderHiddenStates, timestepCondOrNull, added, probe, moduleDone, null);
    }

    /**
     * The full forward pass: SDXL's added conditioning (required exactly when the config has {@code addition_embed_type:
     * text_time}; each time id gets the sinusoidal embedding of width addition_time_embed_dim ({@code add_time_proj}),
     * the embeddings follow text_embeds in one vector per sample, and {@code add_embedding} of it is added to the time
     * embedding) and optional residuals (see the residuals overload).
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor timestepCondOrNull,
                          AddedConditioning added, BiConsumer<String, Tensor> probe, java.util.function.Consumer<String> moduleDone,
                          UNetResiduals residualsOrNull) {
        UNetConfig c = config;
        checkInputs(sample, timesteps, encoderHiddenStates, timestepCondOrNull);
        checkAdded(sample.dim(0), added);
        BiConsumer<String, Tensor> p = probe != null ? probe : (k, v) -> {};
        int b = sample.dim(0), h = sample.dim(2), w = sample.dim(3);
        float[] ts = timesteps.length == b ? timesteps : filled(b, timesteps[0]);
        float[] context = encoderHiddenStates.data();
        int contextLen = encoderHiddenStates.dim(1);

        // time
        float[] tProj = timeEmbedding.project(ts);
        p.accept("time_proj", new Tensor(tProj, b, c.timeProjDim()));
        float[] temb = timeEmbedding.embed(tProj, b, timestepCondOrNull == null ? null : timestepCondOrNull.data());
        p.accept("time_embedding", new Tensor(temb, b, c.timeEmbedDim()));
        Scratch scratch = new Scratch(moduleDone);
        scratch.done("time_embedding");
        if (addLinear1 != null) {
            float[] aug = addEmbedding(added, b, p), sum = new float[temb.length];
            Elementwise.add(temb, 0, aug, 0, sum, 0, temb.length);
            temb = sum;
            scratch.done("add_embedding");
        }
        float[] tembSilu = temb.clone();
        Activations.silu(tembSilu, 0, tembSilu.length);

        // down
        Tensor x = sample;
        if (c.centerInputSample()) {
            float[] d = sample.data().clone();
            for (int i = 0; i < d.length; i++) d[i] = 2f * d[i] - 1f;
            x = new Tensor(d, sample.shape());
        }
        x = convIn.forward(x);
        p.accept("conv_in", x);
        scratch.done("conv_in");
        List<Tensor> skips = new ArrayList<>();
        skips.add(x);
        for (int i = 0; i < down.length; i++) {
            x = down[i].forward(x, tembSilu, context, contextLen, scratch, skips);
            p.accept("down_blocks." + i, x);
        }
        if (residualsOrNull != null) {
            if (residualsOrNull.down().size() != skips.size())
                throw new IllegalArgumentException("unet takes " + skips.size() + " down residuals, got " + residualsOrNull.down().size());
            for (int i = 0; i < skips.size(); i++) skips.set(i, UNetResiduals.add(skips.get(i), residualsOrNull.down().get(i)));
        }

        // mid
        if (mid != null) {
            x = mid.forward(x, tembSilu, context, contextLen, scratch);
            p.accept("mid_block", x);
        }
        if (residualsOrNull != null) x = UNetResiduals.add(x, residualsOrNull.mid());

        // up: when a side is not a multiple of the total down factor, upsample to the next skip's size
        int f = c.downFactor();
        boolean forwardSize = h % f != 0 || w % f != 0;
        for (int i = 0; i < up.length; i++) {
            int upH = 0, upW = 0;
            if (forwardSize && i < up.length - 1) {
                Tensor next = skips.get(skips.size() - 1 - up[i].layers());
                upH = next.dim(2);
                upW = next.dim(3);
            }
            x = up[i].forward(x, tembSilu, context, contextLen, scratch, skips, upH, upW);
            p.accept("up_blocks." + i, x);
        }

        // out
        int ch = x.dim(1), hw = h * w;
        Tensor n = Tensor.zeros(b, ch, h, w);
        GroupNorm.forward(x.data(), b, ch, hw, c.normNumGroups(), normOutW, normOutB, c.normEps(), false, n.data());
        if (probe != null) p.accept("conv_norm_out", new Tensor(n.data().clone(), n.shape()));
        scratch.done("conv_norm_out");
        Activations.silu(n.data(), 0, n.numel());
        Tensor out = convOut.forward(n);
        scratch.done("conv_out");
        return out;
    }

    /** add_time_proj of every time id, appended to text_embeds per sample, through add_embedding: [B, timeEmbedDim]. */
    private float[] addEmbedding(AddedConditioning added, int b, BiConsumer<String, Tensor> p) {
        UNetConfig c = config;
        int ids = added.timeIds().dim(1), d = c.additionTimeEmbedDim(), te = added.textEmbeds().dim(1);
        float[] proj = TimestepEmbedding.sinusoidal(added.timeIds().data(), d, c.flipSinToCos(), c.freqShift());
        p.accept("add_time_proj", new Tensor(proj, b * ids, d));
        int width = c.addEmbedInputDim();
        float[] x = new float[b * width];
        for (int i = 0; i < b; i++) {
            System.arraycopy(added.textEmbeds().data(), i * te, x, i * width, te);
            System.arraycopy(proj, i * ids * d, x, i * width + te, ids * d);
        }
        float[] h = addLinear1.forward(x, b);
        Activations.silu(h, 0, h.length);
        float[] aug = addLinear2.forward(h, b);
        p.accept("add_embedding", new Tensor(aug, b, c.timeEmbedDim()));
        return aug;
    }

    private void checkAdded(int b, AddedConditioning added) {
        UNetConfig c = config;
        if (!c.hasAddedConditioning()) {
            if (added != null) throw new IllegalArgumentException("this unet has no addition_embed_type; added conditioning must be null");
            return;
        }
        if (added == null || added.textEmbeds() == null || added.timeIds() == null)
            throw new IllegalArgumentException("this unet has addition_embed_type text_time (SDXL): pass text_embeds and time_ids");
        Tensor te = added.textEmbeds(), ids = added.timeIds();
        if (te.rank() != 2 || te.dim(0) != b || ids.rank() != 2 || ids.dim(0) != b
                || te.dim(1) + ids.dim(1) * c.additionTimeEmbedDim() != c.addEmbedInputDim())
            throw new IllegalArgumentException("unet added conditioning: text_embeds " + te + " and time_ids " + ids + " must be [" + b
                    + ", P] and [" + b + ", n] with P + n x " + c.additionTimeEmbedDim() + " = " + c.addEmbedInputDim());
        for (float v : ids.data()) if (!Float.isFinite(v)) throw new IllegalArgumentException("unet time id is not finite: " + v);
    }

    private void checkInputs(Tensor sample, float[] timesteps, Tensor ehs, Tensor cond) {
        UNetConfig c = config;
        if (sample == null || sample.rank() != 4 || sample.dim(1) != c.inChannels() || sample.dim(0) < 1 || sample.dim(2) < 1 || sample.dim(3) < 1)
            throw new IllegalArgumentException("unet sample must be [B, " + c.inChannels() + ", h, w] with B, h, w >= 1, got " + sample);
        int b = sample.dim(0);
        if (timesteps == null || (timesteps.length != b && timesteps.length != 1))
            throw new IllegalArgumentException("unet timesteps must have 1 or " + b + " values, got "
                    + (timesteps == null ? "null" : timesteps.length));
        for (float t : timesteps) if (!Float.isFinite(t)) throw new IllegalArgumentException("unet timestep is not finite: " + t);
        if (ehs == null || ehs.rank() != 3 || ehs.dim(0) != b || ehs.dim(2) != c.crossAttentionDim() || ehs.dim(1) < 1)
            throw new IllegalArgumentException("unet encoder_hidden_states must be [" + b + ", L, " + c.crossAttentionDim() + "], got " + ehs);
        if (c.timeCondProjDim() > 0) {
            if (cond == null)
                throw new IllegalArgumentException("this unet has time_cond_proj_dim " + c.timeCondProjDim()
                        + " (LCM): pass timestep_cond, e.g. guidanceEmbedding(w, " + c.timeCondProjDim() + ")");
            if (cond.rank() != 2 || cond.dim(0) != b || cond.dim(1) != c.timeCondProjDim())
                throw new IllegalArgumentException("unet timestep_cond must be [" + b + ", " + c.timeCondProjDim() + "], got " + cond);
        } else if (cond != null) {
            throw new IllegalArgumentException("this unet has no time_cond_proj_dim; timestep_cond must be null");
        }
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    /**
     * LCM's guidance-scale embedding, as diffusers' LatentConsistencyModelPipeline.get_guidance_scale_embedding computes
     * it in float32: w' = 1000 w; e = ln(10000) / (half - 1); freq_i = exp(-e i); [sin(w' freq), cos(w' freq)]
     * (zero-padded to an odd dim). The pipeline passes w = guidance_scale - 1.
     *
     * @return {@code [w.length, dim]}
     */
    public static Tensor guidanceEmbedding(float[] w, int dim) {
        if (dim < 4) throw new IllegalArgumentException("guidance embedding dim must be >= 4, got " + dim);
        int half = dim / 2;
        float e = (float) Math.log(10000f) / (float) (half - 1);
        float[] freq = new float[half];
        for (int i = 0; i < half; i++) freq[i] = (float) Math.exp((float) i * -e);
        float[] out = new float[w.length * dim];
        for (int b = 0; b < w.length; b++) {
            float ws = w[b] * 1000f;
            for (int i = 0; i < half; i++) {
                float a = ws * freq[i];
                out[b * dim + i] = (float) Math.sin(a);
                out[b * dim + half + i] = (float) Math.cos(a);
            }
        }
        return new Tensor(out, w.length, dim);
    }

    /**
     * Floating-point operations (multiply-adds x 2) of one forward pass of the model as written: convolutions, linear
     * layers and the two attention matrix products; norms and element-wise work are not counted.
     */
    public static long flops(UNetConfig c, int batch, int h, int w, int textLen) {
        return new UNet2DConditionModel(c, new UNetWeights(new EmptySource())).flops(batch, h, w, textLen);
    }

    private long flops(int batch, int h, int w, int textLen) {
        long f = timeEmbedding.flops(batch) + convIn.flops(batch, h, w);
        if (addLinear1 != null) f += addLinear1.flops(batch) + addLinear2.flops(batch);
        int[] hw = {h, w};
        List<int[]> sizes = new ArrayList<>();
        sizes.add(hw.clone());
        for (DownBlock d : down) {
            f += d.flops(batch, hw, textLen);
            sizes.add(hw.clone());
        }
        if (mid != null) f += mid.flops(batch, hw[0], hw[1], textLen);
        int fac = config.downFactor();
        boolean forwardSize = h % fac != 0 || w % fac != 0;
        // sizes[k] = input size of down level k; up level i runs at the size of down level n-1-i and upsamples to n-2-i.
        int n = down.length;
        for (int i = 0; i < n; i++) {
            int[] s = sizes.get(n - 1 - i);
            f += up[i].flops(batch, s[0], s[1], textLen);
            if (up[i].upsamples()) {
                int[] next = sizes.get(n - 2 - i);
                int oh = forwardSize ? next[0] : 2 * s[0], ow = forwardSize ? next[1] : 2 * s[1];
                f += up[i].upsampleFlops(batch, oh, ow);
            }
        }
        return f + convOut.flops(batch, h, w);
    }
}

package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.TensorSource;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * diffusers' {@code ControlNetModel} (0.25.1): the U-Net's encoder half with its own weights, built from the same
 * layers ({@link TimestepEmbedding}, {@link DownBlock}, {@link MidBlock}), plus
 * <pre>
 * controlnet_cond_embedding: conv 3x3 (cond -> c0), SiLU, [conv 3x3 (c -> c), SiLU, conv 3x3 stride 2 (c -> c'), SiLU]..., conv 3x3 (-> block_out_channels[0])
 * h = conv_in(sample) + embedding(control image); skips and mid output as in the U-Net
 * residual i = controlnet_down_blocks.i (1x1) of skip i; mid residual = controlnet_mid_block (1x1) of the mid output; all x scale
 * </pre>
 * The residuals go to {@link UNet2DConditionModel#forward(Tensor, float[], Tensor, Tensor, BiConsumer,
 * java.util.function.Consumer, UNetResiduals)}. Thread-safe (no mutable state).
 */
public final class ControlNetModel {
    private final ControlNetConfig config;
    private final TimestepEmbedding timeEmbedding;
    private final Conv convIn, embIn, embOut, midOut;
    private final Conv[] embBlocks, zeroConvs;
    private final DownBlock[] down;
    private final MidBlock mid;

    private ControlNetModel(ControlNetConfig cc, UNetWeights w) {
        this.config = cc;
        UNetConfig c = cc.unet();
        int n = c.levels(), ted = c.timeEmbedDim();
        int[] boc = c.blockOutChannels(), emb = cc.embeddingChannels();
        convIn = Conv.same(w, "conv_in", c.inChannels(), boc[0], c.convInKernel());
        timeEmbedding = new TimestepEmbedding(w, c);
        String e = "controlnet_cond_embedding.";
        embIn = Conv.same(w, e + "conv_in", cc.conditioningChannels(), emb[0], 3);
        embBlocks = new Conv[2 * (emb.length - 1)];
        for (int i = 0; i < emb.length - 1; i++) {
            embBlocks[2 * i] = Conv.same(w, e + "blocks." + (2 * i), emb[i], emb[i], 3);
            embBlocks[2 * i + 1] = Conv.of(w, e + "blocks." + (2 * i + 1), emb[i], emb[i + 1], 3, 2, 1, 1, 1, 1);
        }
        embOut = Conv.same(w, e + "conv_out", emb[emb.length - 1], boc[0], 3);
        down = new DownBlock[n];
        List<Integer> skipChannels = new ArrayList<>();
        skipChannels.add(boc[0]);
        for (int i = 0; i < n; i++) {
            down[i] = new DownBlock(w, c, i, i == 0 ? boc[0] : boc[i - 1], ted);
            for (int j = 0; j < c.layersPerBlock()[i]; j++) skipChannels.add(boc[i]);
            if (i < n - 1) skipChannels.add(boc[i]);
        }
        if (!c.midBlock()) w.problem("a ControlNet needs a mid block (mid_block_type null is not supported)");
        mid = c.midBlock() ? new MidBlock(w, c, ted) : null;
        zeroConvs = new Conv[skipChannels.size()];
        for (int i = 0; i < zeroConvs.length; i++)
            zeroConvs[i] = Conv.same(w, "controlnet_down_blocks." + i, skipChannels.get(i), skipChannels.get(i), 1);
        midOut = Conv.same(w, "controlnet_mid_block", boc[n - 1], boc[n - 1], 1);
    }

    /**
     * Loads a ControlNet from its tensors under diffusers' names and its {@code config.json}; with a null config
     * (single files) it is inferred from the shapes ({@link ControlNetConfig#infer}). Every tensor is validated here.
     */
    public static ControlNetModel load(TensorSource tensors, JsonNode configOrNull) {
        ControlNetConfig c = configOrNull != null ? ControlNetConfig.fromJson(configOrNull) : ControlNetConfig.infer(tensors);
        UNetWeights w = new UNetWeights(tensors);
        ControlNetModel m = new ControlNetModel(c, w);
        w.finish(c.unet());
        return m;
    }

    public ControlNetConfig config() { return config; }

    /** Number of down residuals (skips of the U-Net it pairs with). */
    public int numDownResiduals() { return zeroConvs.length; }

    /**
     * The conditioning embedding of control images {@code [B, conditioningChannels, 8h, 8w]} in [0, 1] (not
     * normalised), {@code [B, block_out_channels[0], h, w]}. It depends only on the image: compute it once per
     * generation and pass it to {@link #forward(Tensor, float[], Tensor, Tensor, float, BiConsumer)} at every step.
     */
    public Tensor embedCondition(Tensor controlImage) {
        int cc = config.conditioningChannels();
        if (controlImage == null || controlImage.rank() != 4 || controlImage.dim(1) != cc)
            throw new IllegalArgumentException("control image must be [B, " + cc + ", H, W], got " + controlImage);
        Tensor x = controlImage;
        if (config.bgr()) x = flipChannels(x);
        x = silu(embIn.forward(x));
        for (Conv b : embBlocks) x = silu(b.forward(x));
        return embOut.forward(x);
    }

    /**
     * The residuals for one step.
     *
     * @param sample          latents {@code [B, 4, h, w]} (the U-Net's input without any inpainting channels)
     * @param timesteps       one per batch entry, or one for all
     * @param encoderHiddenStates text embeddings {@code [B, L, crossAttentionDim]}
     * @param condEmbedding   {@link #embedCondition} of the control image: {@code [B or 1, c0, h, w]}
     * @param scale           conditioning scale, multiplied into every residual (float32, as diffusers)
     * @param probe           receives intermediate outputs under diffusers' module names, or null
     */
    public UNetResiduals forward(Tensor sample, float[] timesteps, Tensor encoderHiddenStates, Tensor condEmbedding,
                                 float scale, BiConsumer<String, Tensor> probe) {
        UNetConfig c = config.unet();
        BiConsumer<String, Tensor> p = probe != null ? probe : (k, v) -> {};
        if (sample == null || sample.rank() != 4 || sample.dim(1) != c.inChannels())
            throw new IllegalArgumentException("controlnet sample must be [B, " + c.inChannels() + ", h, w], got " + sample);
        int b = sample.dim(0), h = sample.dim(2), w = sample.dim(3);
        if (timesteps == null || (timesteps.length != b && timesteps.length != 1))
            throw new IllegalArgumentException("controlnet timesteps must have 1 or " + b + " values");
        if (encoderHiddenStates == null || encoderHiddenStates.rank() != 3 || encoderHiddenStates.dim(0) != b
                || encoderHiddenStates.dim(2) != c.crossAttentionDim())
            throw new IllegalArgumentException("controlnet encoder_hidden_states must be [" + b + ", L, " + c.crossAttentionDim() + "], got " + encoderHiddenStates);
        int c0 = c.blockOutChannels()[0];
        if (condEmbedding == null || condEmbedding.rank() != 4 || (condEmbedding.dim(0) != b && condEmbedding.dim(0) != 1)
                || condEmbedding.dim(1) != c0 || condEmbedding.dim(2) != h || condEmbedding.dim(3) != w)
            throw new IllegalArgumentException("control image embedding is " + condEmbedding + ", the latents need ["
                    + b + ", " + c0 + ", " + h + ", " + w + "]: the control image must be 8 times the latent size");
        float[] ts = timesteps;
        if (ts.length != b) {
            ts = new float[b];
            java.util.Arrays.fill(ts, timesteps[0]);
        }
        float[] tProj = timeEmbedding.project(ts);
        float[] temb = timeEmbedding.embed(tProj, b, null);
        p.accept("time_embedding", new Tensor(temb, b, c.timeEmbedDim()));
        float[] tembSilu = temb.clone();
        Activations.silu(tembSilu, 0, tembSilu.length);

        Tensor conv = convIn.forward(sample);
        p.accept("conv_in", conv);
        p.accept("controlnet_cond_embedding", condEmbedding);
        float[] cd = conv.data(), ed = condEmbedding.data(), xd = new float[cd.length];
        int per = c0 * h * w;
        for (int i = 0; i < b; i++) {
            int eo = condEmbedding.dim(0) == 1 ? 0 : i * per;
            for (int k = 0; k < per; k++) xd[i * per + k] = cd[i * per + k] + ed[eo + k];
        }
        Tensor x = new Tensor(xd, conv.shape());
        float[] context = encoderHiddenStates.data();
        int contextLen = encoderHiddenStates.dim(1);
        Scratch scratch = new Scratch();
        List<Tensor> skips = new ArrayList<>();
        skips.add(x);
        for (int i = 0; i < down.length; i++) {
            x = down[i].forward(x, tembSilu, context, contextLen, scratch, skips);
            p.accept("down_blocks." + i, x);
        }
        x = mid.forward(x, tembSilu, context, contextLen, scratch);
        p.accept("mid_block", x);

        List<Tensor> res = new ArrayList<>(skips.size());
        for (int i = 0; i < skips.size(); i++) res.add(scaled(zeroConvs[i].forward(skips.get(i)), scale));
        return new UNetResiduals(res, scaled(midOut.forward(x), scale));
    }

    private static Tensor scaled(Tensor t, float s) {
        if (s != 1f) {
            float[] d = t.data();
            for (int i = 0; i < d.length; i++) d[i] *= s;
        }
        return t;
    }

    private static Tensor silu(Tensor t) {
        Activations.silu(t.data(), 0, t.numel());
        return t;
    }

    private static Tensor flipChannels(Tensor x) {
        int b = x.dim(0), ch = x.dim(1), hw = x.dim(2) * x.dim(3);
        float[] s = x.data(), d = new float[s.length];
        for (int i = 0; i < b; i++)
            for (int k = 0; k < ch; k++) System.arraycopy(s, (i * ch + k) * hw, d, (i * ch + ch - 1 - k) * hw, hw);
        return new Tensor(d, x.shape());
    }
}

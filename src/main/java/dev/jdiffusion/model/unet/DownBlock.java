package dev.jdiffusion.model.unet;

import dev.jdiffusion.tensor.Tensor;

import java.util.List;

/**
 * diffusers' CrossAttnDownBlock2D (resnet then transformer, per layer) or DownBlock2D (resnets only), followed by a
 * Downsample2D (conv 3x3, stride 2) except at the last level. Every layer's output is kept as a skip connection.
 */
final class DownBlock {
    private final ResnetBlock2D[] resnets;
    private final Transformer2D[] attentions;
    private final Conv downsampler;
    private final String prefix;

    DownBlock(UNetWeights w, UNetConfig c, int level, int in, int tembDim) {
        String p = "down_blocks." + level;
        prefix = p;
        int out = c.blockOutChannels()[level], n = c.layersPerBlock()[level];
        boolean att = c.downHasAttention(level);
        resnets = new ResnetBlock2D[n];
        attentions = att ? new Transformer2D[n] : null;
        for (int i = 0; i < n; i++) {
            resnets[i] = new ResnetBlock2D(w, p + ".resnets." + i, i == 0 ? in : out, out, tembDim, c.normNumGroups(), c.normEps(), 1f);
            if (att) attentions[i] = new Transformer2D(w, p + ".attentions." + i, out, c.attentionHeads()[level],
                    c.transformerLayers()[level][i], c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection());
        }
        if (level < c.levels() - 1) {
            int pad = c.downsamplePadding();
            String dp = p + ".downsamplers.0.conv";
            downsampler = pad == 0 ? Conv.of(w, dp, out, out, 3, 2, 0, 0, 1, 1) : Conv.of(w, dp, out, out, 3, 2, pad, pad, pad, pad);
        } else downsampler = null;
    }

    /** Runs the block; appends every intermediate output to skips and returns the last. */
    Tensor forward(Tensor x, float[] tembSilu, float[] context, int contextLen, Scratch s, List<Tensor> skips) {
        for (int i = 0; i < resnets.length; i++) {
            x = resnets[i].forward(x, tembSilu);
            s.done(prefix + ".resnets." + i);
            if (attentions != null) {
                x = attentions[i].forward(x, context, contextLen, s);
                s.done(prefix + ".attentions." + i);
            }
            skips.add(x);
        }
        if (downsampler != null) {
            x = downsampler.forward(x);
            s.done(prefix + ".downsamplers");
            skips.add(x);
        }
        return x;
    }

    /** Flops for an input of h x w; returns them and writes the output size into hw. */
    long flops(int batch, int[] hw, int contextLen) {
        long f = 0;
        for (int i = 0; i < resnets.length; i++) {
            f += resnets[i].flops(batch, hw[0], hw[1]);
            if (attentions != null) f += attentions[i].flops(batch, hw[0], hw[1], contextLen);
        }
        if (downsampler != null) {
            f += downsampler.flops(batch, hw[0], hw[1]);
            hw[0] = downsampler.outHeight(hw[0]);
            hw[1] = downsampler.outWidth(hw[1]);
        }
        return f;
    }
}

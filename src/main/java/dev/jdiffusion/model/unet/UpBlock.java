package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Upsample;
import dev.jdiffusion.tensor.Tensor;

import java.util.List;

/**
 * diffusers' CrossAttnUpBlock2D / UpBlock2D: per layer, concatenate the newest skip connection along channels, resnet,
 * (transformer); then, except at the last level, Upsample2D (nearest x2, or to the next skip's size when sides are odd,
 * as diffusers passes upsample_size) followed by a 3x3 conv.
 */
final class UpBlock {
    private final ResnetBlock2D[] resnets;
    private final Transformer2D[] attentions;
    private final Conv upsampleConv;
    private final String prefix;

    /** level is the up index (0 = lowest resolution). */
    UpBlock(UNetWeights w, UNetConfig c, int level, int tembDim) {
        String p = "up_blocks." + level;
        prefix = p;
        int n = c.levels(), d = n - 1 - level; // matching down level
        int[] boc = c.blockOutChannels();
        int out = boc[d], prevOut = boc[Math.min(d + 1, n - 1)], in = boc[Math.max(d - 1, 0)];
        int layers = c.layersPerBlock()[d] + 1;
        boolean att = c.upHasAttention(level);
        resnets = new ResnetBlock2D[layers];
        attentions = att ? new Transformer2D[layers] : null;
        for (int i = 0; i < layers; i++) {
            int skip = i == layers - 1 ? in : out;
            int resIn = i == 0 ? prevOut : out;
            resnets[i] = new ResnetBlock2D(w, p + ".resnets." + i, resIn + skip, out, tembDim, c.normNumGroups(), c.normEps(), 1f);
            if (att) attentions[i] = new Transformer2D(w, p + ".attentions." + i, out, c.attentionHeads()[d],
                    c.upTransformerLayers()[level][i], c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection());
        }
        upsampleConv = level < n - 1 ? Conv.same(w, p + ".upsamplers.0.conv", out, out, 3) : null;
    }

    int layers() { return resnets.length; }

    /** Consumes skips from the end of the list; upsamples to (upH, upW) when given (> 0), else x2. */
    Tensor forward(Tensor x, float[] tembSilu, float[] context, int contextLen, Scratch s, List<Tensor> skips, int upH, int upW) {
        for (int i = 0; i < resnets.length; i++) {
            Tensor skip = skips.removeLast();
            int b = x.dim(0), h = x.dim(2), wd = x.dim(3);
            if (skip.dim(2) != h || skip.dim(3) != wd)
                throw new IllegalStateException("skip " + skip + " does not match " + x);
            x = new Tensor(Layout.concatChannels(x.data(), x.dim(1), skip.data(), skip.dim(1), b, h * wd), b, x.dim(1) + skip.dim(1), h, wd);
            x = resnets[i].forward(x, tembSilu);
            s.done(prefix + ".resnets." + i);
            if (attentions != null) {
                x = attentions[i].forward(x, context, contextLen, s);
                s.done(prefix + ".attentions." + i);
            }
        }
        if (upsampleConv != null) {
            int b = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
            int oh = upH > 0 ? upH : 2 * h, ow = upW > 0 ? upW : 2 * wd;
            Tensor u = Tensor.zeros(b, c, oh, ow);
            Upsample.nearest(x.data(), b, c, h, wd, oh, ow, u.data());
            x = upsampleConv.forward(u);
            s.done(prefix + ".upsamplers");
        }
        return x;
    }

    long flops(int batch, int h, int w, int contextLen) {
        long f = 0;
        for (int i = 0; i < resnets.length; i++) {
            f += resnets[i].flops(batch, h, w);
            if (attentions != null) f += attentions[i].flops(batch, h, w, contextLen);
        }
        return f;
    }

    boolean upsamples() { return upsampleConv != null; }

    long upsampleFlops(int batch, int oh, int ow) { return upsampleConv.flops(batch, oh, ow); }
}

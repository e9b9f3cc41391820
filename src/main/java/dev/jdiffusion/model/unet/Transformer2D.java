package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' Transformer2DModel for continuous input: GroupNorm (eps 1e-6) -> proj_in (1x1 conv, or linear when
 * use_linear_projection) -> BasicTransformerBlocks over the H*W tokens -> proj_out -> + input.
 */
final class Transformer2D implements MidBlock.Attention {
    private static final float NORM_EPS = 1e-6f;
    private final int channels, inner, groups;
    private final boolean linear;
    private final float[] normW, normB;
    private final Conv projInConv, projOutConv;
    private final Linear projInLinear, projOutLinear;
    private final BasicTransformerBlock[] blocks;

    Transformer2D(UNetWeights w, String p, int channels, int heads, int layers, int crossDim, int groups, boolean linear) {
        this.channels = channels;
        this.groups = groups;
        this.linear = linear;
        int headDim = channels / heads;
        this.inner = heads * headDim;
        normW = w.vector(p + ".norm.weight", channels);
        normB = w.vector(p + ".norm.bias", channels);
        if (linear) {
            projInLinear = new Linear(w, p + ".proj_in", channels, inner, true);
            projOutLinear = new Linear(w, p + ".proj_out", inner, channels, true);
            projInConv = projOutConv = null;
        } else {
            projInConv = Conv.same(w, p + ".proj_in", channels, inner, 1);
            projOutConv = Conv.same(w, p + ".proj_out", inner, channels, 1);
            projInLinear = projOutLinear = null;
        }
        blocks = new BasicTransformerBlock[layers];
        for (int i = 0; i < layers; i++)
            blocks[i] = new BasicTransformerBlock(w, p + ".transformer_blocks." + i, inner, heads, headDim, crossDim);
    }

    /** x [B, C, H, W]; context [B, Lc, crossDim] flattened. */
    @Override public Tensor forward(Tensor x, float[] context, int contextLen, Scratch s) {
        int b = x.dim(0), h = x.dim(2), wd = x.dim(3), hw = h * wd;
        Tensor n = Tensor.zeros(b, channels, h, wd);
        GroupNorm.forward(x.data(), b, channels, hw, groups, normW, normB, NORM_EPS, false, n.data());
        float[] tokens;
        if (linear) {
            tokens = projInLinear.forward(Layout.toTokens(n.data(), b, channels, hw), b * hw);
        } else {
            tokens = Layout.toTokens(projInConv.forward(n).data(), b, inner, hw);
        }
        for (BasicTransformerBlock blk : blocks) blk.forward(tokens, b, hw, context, contextLen, s);
        Tensor out;
        if (linear) {
            out = new Tensor(Layout.toChannels(projOutLinear.forward(tokens, b * hw), b, channels, hw), b, channels, h, wd);
        } else {
            out = projOutConv.forward(new Tensor(Layout.toChannels(tokens, b, inner, hw), b, inner, h, wd));
        }
        float[] od = out.data();
        Elementwise.add(od, 0, x.data(), 0, od, 0, od.length);
        return out;
    }

    @Override public long flops(int batch, int h, int w, int contextLen) {
        int hw = h * w;
        long f = 2L * 2L * batch * hw * channels * inner; // proj_in + proj_out
        for (BasicTransformerBlock blk : blocks) f += blk.flops(batch, hw, contextLen);
        return f;
    }
}

package dev.jdiffusion.model.vae;

import dev.jdiffusion.kernels.Attention;
import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.model.unet.GroupNormLayer;
import dev.jdiffusion.model.unet.MidBlock;
import dev.jdiffusion.model.unet.ResnetBlock2D;
import dev.jdiffusion.model.unet.Scratch;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

/**
 * The VAE mid-block self-attention (diffusers' {@code Attention} with group norm and a residual): the pixels are
 * the tokens and the channels their features. {@code out = x + to_out(attn(to_q(gn(x)), to_k(gn(x)), to_v(gn(x))))},
 * one head of all channels (heads = channels / attention_head_dim, and the VAE's head dim is the channel count).
 */
final class MidAttention implements MidBlock.Attention {
    private final GroupNormLayer norm;
    private final Matrix wq, wk, wv, wo;
    private final float[] bq, bk, bv, bo;
    private final int channels, heads;

    private MidAttention(GroupNormLayer norm, Matrix[] w, float[][] b, int heads) {
        this.norm = norm;
        this.wq = w[0];
        this.wk = w[1];
        this.wv = w[2];
        this.wo = w[3];
        this.bq = b[0];
        this.bk = b[1];
        this.bv = b[2];
        this.bo = b[3];
        this.channels = norm.channels();
        this.heads = heads;
    }

    /** The VAE's UNetMidBlock2D under prefix: resnet, self-attention (absent in some VAEs), resnet. */
    static MidBlock midBlock(TensorSource s, String prefix, int groups, float eps) {
        ResnetBlock2D r0 = ResnetBlock2D.load(s, prefix + ".resnets.0", groups, eps);
        boolean hasAttn = s.contains(prefix + ".attentions.0.group_norm.weight");
        MidAttention a = hasAttn ? load(s, prefix + ".attentions.0", groups, eps, 0) : null;
        ResnetBlock2D r1 = ResnetBlock2D.load(s, prefix + ".resnets.1", groups, eps);
        return new MidBlock(prefix, r0, a, r1);
    }

    static MidAttention load(TensorSource s, String prefix, int groups, float eps, int headDim) {
        GroupNormLayer gn = GroupNormLayer.load(s, prefix + ".group_norm", groups, eps);
        int c = gn.channels();
        // diffusers names (to_q ...) or the pre-0.14 diffusers names (query ...).
        String[][] names = {{"to_q", "query"}, {"to_k", "key"}, {"to_v", "value"}, {"to_out.0", "proj_attn"}};
        Matrix[] w = new Matrix[4];
        float[][] b = new float[4][];
        for (int i = 0; i < 4; i++) {
            String n = s.contains(prefix + "." + names[i][0] + ".weight") || !s.contains(prefix + "." + names[i][1] + ".weight")
                    ? names[i][0] : names[i][1];
            TensorView t = s.get(prefix + "." + n + ".weight");
            if (t.rank() == 4) t.expectShape(c, c, 1, 1);
            else t.expectShape(c, c);
            w[i] = Matrix.of(t);
            b[i] = s.get(prefix + "." + n + ".bias").expectShape(c).toFloatArray();
        }
        int hd = headDim <= 0 ? c : headDim;
        Shapes.check(s, prefix, c % hd == 0, c + " channels not divisible by attention head dim " + hd);
        return new MidAttention(gn, w, b, c / hd);
    }

    @Override public long flops(int batch, int h, int w, int contextLen) {
        long t = (long) h * w;
        return batch * (4 * 2L * t * channels * channels + 2 * 2L * t * t * channels);
    }

    /** Self-attention: the context is ignored. */
    @Override public Tensor forward(Tensor x, float[] context, int contextLen, Scratch s) { return forward(x); }

    Tensor forward(Tensor x) {
        int n = x.dim(0), c = channels, hw = x.dim(2) * x.dim(3);
        Tensor normed = norm.forward(x, false);
        float[] tokens = new float[hw * c];
        float[] q = new float[hw * c], k = new float[hw * c], v = new float[hw * c], a = new float[hw * c], o = new float[hw * c];
        float[] out = x.data().clone();
        int hd = c / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        for (int b = 0; b < n; b++) {
            int base = b * c * hw;
            float[] nd = normed.data();
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw; p++) tokens[p * c + ch] = nd[base + ch * hw + p];
            Gemm.linear(tokens, 0, hw, wq, bq, q, 0);
            Gemm.linear(tokens, 0, hw, wk, bk, k, 0);
            Gemm.linear(tokens, 0, hw, wv, bv, v, 0);
            Attention.forward(q, k, v, 1, heads, hw, hw, hd, false, scale, a);
            Gemm.linear(a, 0, hw, wo, bo, o, 0);
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw; p++) out[base + ch * hw + p] += o[p * c + ch];
        }
        return new Tensor(out, x.shape());
    }
}

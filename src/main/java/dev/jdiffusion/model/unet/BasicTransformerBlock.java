package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.kernels.LayerNorm;

/**
 * diffusers' BasicTransformerBlock (layer_norm variant): LayerNorm -> self-attention -> residual;
 * LayerNorm -> cross-attention on the text states -> residual; LayerNorm -> GEGLU feed-forward -> residual.
 */
final class BasicTransformerBlock {
    private static final float LN_EPS = 1e-5f;
    private final int dim, ffInner;
    private final float[] n1W, n1B, n2W, n2B, n3W, n3B;
    private final CrossAttention attn1, attn2;
    private final Linear ffProj, ffOut;

    BasicTransformerBlock(UNetWeights w, String p, int dim, int heads, int headDim, int crossDim) {
        this.dim = dim;
        this.ffInner = dim * 4;
        n1W = w.vector(p + ".norm1.weight", dim);
        n1B = w.vector(p + ".norm1.bias", dim);
        attn1 = new CrossAttention(w, p + ".attn1", dim, dim, heads, headDim);
        n2W = w.vector(p + ".norm2.weight", dim);
        n2B = w.vector(p + ".norm2.bias", dim);
        attn2 = new CrossAttention(w, p + ".attn2", dim, crossDim, heads, headDim);
        n3W = w.vector(p + ".norm3.weight", dim);
        n3B = w.vector(p + ".norm3.bias", dim);
        ffProj = new Linear(w, p + ".ff.net.0.proj", dim, 2 * ffInner, true);
        ffOut = new Linear(w, p + ".ff.net.2", ffInner, dim, true);
    }

    /** x [B, L, dim] updated in place; context [B, Lc, crossDim]. */
    void forward(float[] x, int batch, int len, float[] context, int contextLen, Scratch s) {
        int rows = batch * len, size = rows * dim;
        float[] n = s.get(Scratch.NORM, size);
        LayerNorm.forward(x, rows, dim, n1W, n1B, LN_EPS, n);
        Elementwise.add(attn1.forward(n, batch, len, n, len, s), 0, x, 0, x, 0, size);
        LayerNorm.forward(x, rows, dim, n2W, n2B, LN_EPS, n);
        Elementwise.add(attn2.forward(n, batch, len, context, contextLen, s), 0, x, 0, x, 0, size);
        LayerNorm.forward(x, rows, dim, n3W, n3B, LN_EPS, n);
        float[] proj = ffProj.forward(n, rows, s.get(Scratch.FF_PROJ, rows * 2 * ffInner));
        float[] g = s.get(Scratch.FF_GATE, rows * ffInner);
        Activations.geglu(proj, rows, ffInner, g);
        Elementwise.add(ffOut.forward(g, rows, s.get(Scratch.OUT, size)), 0, x, 0, x, 0, size);
    }

    long flops(int batch, int len, int contextLen) {
        long rows = (long) batch * len;
        return attn1.flops(batch, len, len) + attn2.flops(batch, len, contextLen) + ffProj.flops(rows) + ffOut.flops(rows);
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Attention;

/**
 * diffusers' Attention as the U-Net uses it: to_q/to_k/to_v without bias, multi-head scaled dot product
 * (scale = head_dim^-0.5), to_out.0 with bias. Self-attention when the context is the input itself.
 */
final class CrossAttention {
    private final int heads, headDim;
    private final Linear toQ, toK, toV, toOut;

    CrossAttention(UNetWeights w, String p, int queryDim, int contextDim, int heads, int headDim) {
        this.heads = heads;
        this.headDim = headDim;
        int inner = heads * headDim;
        toQ = new Linear(w, p + ".to_q", queryDim, inner, false);
        toK = new Linear(w, p + ".to_k", contextDim, inner, false);
        toV = new Linear(w, p + ".to_v", contextDim, inner, false);
        toOut = new Linear(w, p + ".to_out.0", inner, queryDim, true);
    }

    /**
     * x [B, Lq, queryDim], context [B, Lk, contextDim] -> [B, Lq, queryDim], written to the scratch OUT slot and returned
     * (valid until the next call that uses the same scratch).
     */
    float[] forward(float[] x, int batch, int lq, float[] context, int lk, Scratch s) {
        int inner = heads * headDim;
        float[] q = toQ.forward(x, batch * lq, s.get(Scratch.Q, batch * lq * inner));
        float[] k = toK.forward(context, batch * lk, s.get(Scratch.K, batch * lk * inner));
        float[] v = toV.forward(context, batch * lk, s.get(Scratch.V, batch * lk * inner));
        float[] o = s.get(Scratch.ATTN, batch * lq * inner);
        Attention.forward(q, k, v, batch, heads, lq, lk, headDim, false, (float) Math.pow(headDim, -0.5), o);
        return toOut.forward(o, batch * lq, s.get(Scratch.OUT, batch * lq * toOut.out));
    }

    long flops(int batch, int lq, int lk) {
        long inner = (long) heads * headDim;
        return toQ.flops((long) batch * lq) + toK.flops((long) batch * lk) + toV.flops((long) batch * lk)
                + toOut.flops((long) batch * lq) + 2L * 2L * batch * lq * lk * inner;
    }
}

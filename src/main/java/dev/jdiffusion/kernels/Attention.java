package dev.jdiffusion.kernels;

/**
 * Multi-head scaled-dot-product attention. q is {@code [batch, lq, heads*headDim]}, k and v are
 * {@code [batch, lk, heads*headDim]} (token-major, as linear layers produce them), out is like q.
 * Scores are computed one query row at a time: the lq x lk matrix is never materialised.
 */
public final class Attention {
    private Attention() {}

    public static void forward(float[] q, float[] k, float[] v, int batch, int heads, int lq, int lk, int headDim,
                               boolean causal, float scale, float[] out) {
        int dm = heads * headDim;
        Parallel.forRange(batch * heads * lq, 16, (s, e) -> {
            float[] sc = new float[lk];
            float[] acc = new float[headDim];
            for (int idx = s; idx < e; idx++) {
                int i = idx % lq, bh = idx / lq, h = bh % heads, b = bh / heads;
                int qo = (b * lq + i) * dm + h * headDim;
                int n = causal ? Math.min(lk, i + 1) : lk;
                for (int j = 0; j < n; j++) {
                    int ko = (b * lk + j) * dm + h * headDim;
                    float d = 0;
                    for (int t = 0; t < headDim; t++) d = Math.fma(q[qo + t], k[ko + t], d);
                    sc[j] = d * scale;
                }
                Softmax.row(sc, 0, n);
                java.util.Arrays.fill(acc, 0f);
                for (int j = 0; j < n; j++) {
                    int vo = (b * lk + j) * dm + h * headDim;
                    float p = sc[j];
                    for (int t = 0; t < headDim; t++) acc[t] = Math.fma(p, v[vo + t], acc[t]);
                }
                System.arraycopy(acc, 0, out, qo, headDim);
            }
        });
    }
}

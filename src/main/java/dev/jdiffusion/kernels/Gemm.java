package dev.jdiffusion.kernels;

/**
 * Single-precision matrix multiply on row-major heap arrays, and the linear layer built on it.
 * All entry points are multi-threaded through {@link Parallel}; the blocked engine is {@link GemmKernel}.
 * Mapped F16/BF16/F32 weights are converted while packing panels, never copied whole. Linear layers of at
 * most {@link FewRows#MAX_ROWS} rows run as matrix-vector products ({@link FewRows}).
 */
public final class Gemm {
    private Gemm() {}

    /**
     * C = alpha * op(A) * op(B) + beta * C with op(A) M x K and op(B) K x N. A is stored M x K (lda) or,
     * when transA, K x M; B is stored K x N (ldb) or, when transB, N x K. When beta == 0, C is not read.
     */
    public static void sgemm(boolean transA, boolean transB, int M, int N, int K, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        long prof0 = Profiler.start();
        try {
            if (M <= 0 || N <= 0) return;
            GemmKernel.gemm(M, N, K, alpha, GemmKernel.packA(a, aOff, lda, transA), GemmKernel.packB(b, bOff, ldb, transB),
                    beta, c, cOff, ldc, null, null);
        } finally {
            Profiler.stop(Profiler.Op.GEMM, prof0, 2L * M * N * K, M, N, K, -1, -1);
        }
    }

    /**
     * Where a weight carries low-rank (LoRA) terms, they are either folded into the weight panels while packing
     * (costs rank x in x out per packing of the weight: cheap when many rows share one packing) or added in the layer,
     * y = x W^T + s (x down^T) up^T (costs rank x (in + out) per row: cheap for few rows, e.g. the text-conditioning
     * projections over 77 tokens or the U-Net's smallest levels). Measured on SD 1.5 512x512 with a rank-32 LoRA:
     * folding everywhere cost 27% per U-Net step; this choice per call is what the bench reports now.
     */
    static boolean lowRankInLayer(int rows, int in, int out) {
        return (long) rows * (in + out) < (long) in * out;
    }

    /** y = x W^T + bias + Σ s (x down^T) up^T, the terms in order, W read without its terms. */
    private static void linearPlusLowRank(float[] x, int xOff, int rows, Matrix w, dev.jdiffusion.weights.LowRank lr, float[] bias,
                                          float[] y, int yOff) {
        int in = w.cols(), out = w.rows();
        linear(x, xOff, rows, w.withoutLowRank(), bias, y, yOff);
        float[] d = new float[rows * out];
        for (dev.jdiffusion.weights.LowRank.Term t : lr.terms()) {
            float[] h = new float[rows * t.rank()];
            linear(x, xOff, rows, Matrix.of(t.down(), t.rank(), in), null, h, 0);
            linear(h, 0, rows, Matrix.of(t.up(), out, t.rank()), null, d, 0);
            float sc = t.scale();
            for (int i = 0; i < d.length; i++) y[yOff + i] += sc * d[i];
        }
    }

    /**
     * Linear layer: y[r, o] = sum_i x[r, i] * w[o, i] + bias[o] for r < rows, with x row-major
     * {@code rows x w.cols()} at xOff and y row-major {@code rows x w.rows()} at yOff. bias may be null.
     */
    public static void linear(float[] x, int xOff, int rows, Matrix w, float[] bias, float[] y, int yOff) {
        long prof0 = Profiler.start();
        try {
            int in = w.cols(), out = w.rows();
            if (bias != null && bias.length < out)
                throw new IllegalArgumentException("bias has " + bias.length + " values, expected " + out);
            if (rows <= 0 || out <= 0) return;
            dev.jdiffusion.weights.LowRank lr = w.lowRank();
            if (lr != null && lowRankInLayer(rows, in, out)) {
                linearPlusLowRank(x, xOff, rows, w, lr, bias, y, yOff);
                return;
            }
            if (rows <= FewRows.MAX_ROWS && in > 0) FewRows.linear(x, xOff, rows, w, bias, y, yOff);
            else GemmKernel.gemm(rows, out, in, 1f, GemmKernel.packA(x, xOff, in, false), GemmKernel.packBTransposed(w),
                    0f, y, yOff, out, null, bias, true);
        } finally {
            Profiler.stop(Profiler.Op.LINEAR, prof0, 2L * rows * w.rows() * w.cols(), rows, w.cols(), w.rows(), -1, -1);
        }
    }
}

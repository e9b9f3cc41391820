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
            Profiler.stop(Profiler.Op.GEMM, prof0, 2L * M * N * K);
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
            if (rows <= FewRows.MAX_ROWS && in > 0) FewRows.linear(x, xOff, rows, w, bias, y, yOff);
            else GemmKernel.gemm(rows, out, in, 1f, GemmKernel.packA(x, xOff, in, false), GemmKernel.packBTransposed(w),
                    0f, y, yOff, out, null, bias, true);
        } finally {
            Profiler.stop(Profiler.Op.LINEAR, prof0, 2L * rows * w.rows() * w.cols());
        }
    }
}

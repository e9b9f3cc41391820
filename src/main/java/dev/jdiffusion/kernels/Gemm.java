package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix multiply on row-major heap arrays, and the linear layer built on it.
 * All entry points are multi-threaded through {@link Parallel}.
 */
public final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * C = alpha * op(A) * op(B) + beta * C with op(A) M x K and op(B) K x N. A is stored M x K (lda) or,
     * when transA, K x M; B is stored K x N (ldb) or, when transB, N x K. When beta == 0, C is not read.
     */
    public static void sgemm(boolean transA, boolean transB, int M, int N, int K, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        if (M <= 0 || N <= 0) return;
        // Reference-shaped baseline: make B row-major K x N, then C row += a[i,k] * B row k.
        final float[] bk;
        final int bkOff, bkLd;
        if (transB) {
            bk = new float[K * N];
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++) bk[k * N + n] = b[bOff + n * ldb + k];
            bkOff = 0;
            bkLd = N;
        } else {
            bk = b;
            bkOff = bOff;
            bkLd = ldb;
        }
        Parallel.forRange(M, (m0, m1) -> {
            float[] acc = new float[N];
            for (int i = m0; i < m1; i++) {
                java.util.Arrays.fill(acc, 0f);
                for (int k = 0; k < K; k++) {
                    float av = transA ? a[aOff + k * lda + i] : a[aOff + i * lda + k];
                    if (av == 0f) continue;
                    int row = bkOff + k * bkLd;
                    FloatVector va = FloatVector.broadcast(S, av);
                    int j = 0;
                    for (int ub = S.loopBound(N); j < ub; j += S.length()) {
                        FloatVector.fromArray(S, bk, row + j).fma(va, FloatVector.fromArray(S, acc, j)).intoArray(acc, j);
                    }
                    for (; j < N; j++) acc[j] = Math.fma(av, bk[row + j], acc[j]);
                }
                int crow = cOff + i * ldc;
                for (int j = 0; j < N; j++) c[crow + j] = beta == 0f ? alpha * acc[j] : alpha * acc[j] + beta * c[crow + j];
            }
        });
    }

    /**
     * Linear layer: y[r, o] = sum_i x[r, i] * w[o, i] + bias[o] for r < rows, with x row-major
     * {@code rows x w.cols()} at xOff and y row-major {@code rows x w.rows()} at yOff. bias may be null.
     */
    public static void linear(float[] x, int xOff, int rows, Matrix w, float[] bias, float[] y, int yOff) {
        int in = w.cols(), out = w.rows();
        float[] wd = w.dense();
        Parallel.forRange(out, 8, (o0, o1) -> {
            for (int o = o0; o < o1; o++) {
                int wr = o * in;
                float bv = bias == null ? 0f : bias[o];
                for (int r = 0; r < rows; r++) {
                    int xr = xOff + r * in;
                    FloatVector acc = FloatVector.zero(S);
                    int i = 0;
                    for (int ub = S.loopBound(in); i < ub; i += S.length())
                        acc = FloatVector.fromArray(S, x, xr + i).fma(FloatVector.fromArray(S, wd, wr + i), acc);
                    float s = acc.reduceLanes(VectorOperators.ADD);
                    for (; i < in; i++) s = Math.fma(x[xr + i], wd[wr + i], s);
                    y[yOff + r * out + o] = s + bv;
                }
            }
        });
    }
}

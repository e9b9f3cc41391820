package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Numerically stable softmax over contiguous rows (vectorised; exp by {@link VMath#exp}, sum in double). */
public final class Softmax {
    private Softmax() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** In place on rows x cols starting at off. */
    public static void rows(float[] x, int off, int rows, int cols) {
        if (rows * (long) cols >= 1 << 15) Parallel.forRange(rows, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) row(x, off + r * cols, cols);
        });
        else for (int r = 0; r < rows; r++) row(x, off + r * cols, cols);
    }

    /** In place on one row of n values. A row of only -Inf becomes zeros. */
    public static void row(float[] x, int off, int n) {
        int L = S.length(), i = 0;
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int ub = S.loopBound(n); i < ub; i += L) vmax = vmax.max(FloatVector.fromArray(S, x, off + i));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        if (max == Float.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(x, off, off + n, 0f);
            return;
        }
        FloatVector vm = FloatVector.broadcast(S, max);
        i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) VMath.expNonPositive(FloatVector.fromArray(S, x, off + i).sub(vm)).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] = VMath.exp(x[off + i] - max);
        float inv = (float) (1.0 / VMath.sum(x, off, n));
        i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) FloatVector.fromArray(S, x, off + i).mul(inv).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= inv;
    }
}

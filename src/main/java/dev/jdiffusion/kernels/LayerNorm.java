package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Layer normalisation over the last dimension (statistics accumulated in double lanes, vectorised). */
public final class LayerNorm {
    private LayerNorm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** y[r,:] = (x[r,:] - mean) / sqrt(var + eps) * gamma + beta for rows x dim; y may alias x. */
    public static void forward(float[] x, int rows, int dim, float[] gamma, float[] beta, float eps, float[] y) {
        long prof0 = Profiler.start();
        try {
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int o = r * dim;
                    double mean = VMath.sum(x, o, dim) / dim;
                    double inv = 1.0 / Math.sqrt(VMath.sumSquaredDeviations(x, o, dim, mean) / dim + eps);
                    float fm = (float) mean, fi = (float) inv;
                    if (gamma == null && beta == null) {
                        VMath.normalize(x, o, y, o, dim, fm, fi, 0f, false);
                    } else {
                        int i = 0;
                        FloatVector vm = FloatVector.broadcast(S, fm), vi = FloatVector.broadcast(S, fi);
                        for (int ub = S.loopBound(dim); i < ub; i += S.length()) {
                            FloatVector v = FloatVector.fromArray(S, x, o + i).sub(vm).mul(vi);
                            FloatVector g = gamma == null ? FloatVector.broadcast(S, 1f) : FloatVector.fromArray(S, gamma, i);
                            FloatVector b = beta == null ? FloatVector.zero(S) : FloatVector.fromArray(S, beta, i);
                            v.fma(g, b).intoArray(y, o + i);
                        }
                        for (; i < dim; i++) {
                            float v = (x[o + i] - fm) * fi;
                            y[o + i] = Math.fma(v, gamma == null ? 1f : gamma[i], beta == null ? 0f : beta[i]);
                        }
                    }
                }
            });
        } finally {
            Profiler.stop(Profiler.Op.LAYER_NORM, prof0, 0);
        }
    }
}

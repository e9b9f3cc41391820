package dev.jdiffusion.kernels;

/** Layer normalisation over the last dimension (statistics in double). */
public final class LayerNorm {
    private LayerNorm() {}

    /** y[r,:] = (x[r,:] - mean) / sqrt(var + eps) * gamma + beta for rows x dim; y may alias x. */
    public static void forward(float[] x, int rows, int dim, float[] gamma, float[] beta, float eps, float[] y) {
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * dim;
                double s = 0;
                for (int i = 0; i < dim; i++) s += x[o + i];
                double mean = s / dim, sq = 0;
                for (int i = 0; i < dim; i++) {
                    double d = x[o + i] - mean;
                    sq += d * d;
                }
                double inv = 1.0 / Math.sqrt(sq / dim + eps);
                for (int i = 0; i < dim; i++) {
                    float v = (float) ((x[o + i] - mean) * inv);
                    y[o + i] = v * (gamma == null ? 1f : gamma[i]) + (beta == null ? 0f : beta[i]);
                }
            }
        });
    }
}

package dev.jdiffusion.kernels;

/** Group normalisation over NCHW (statistics in double), with optional fused SiLU. */
public final class GroupNorm {
    private GroupNorm() {}

    /**
     * y = (x - mean_g) / sqrt(var_g + eps) * gamma[c] + beta[c], then SiLU when silu. x and y are
     * {@code n x c x hw}; y may alias x. gamma/beta may be null (affine off).
     */
    public static void forward(float[] x, int n, int c, int hw, int groups, float[] gamma, float[] beta, float eps,
                               boolean silu, float[] y) {
        if (c % groups != 0) throw new IllegalArgumentException("channels " + c + " not divisible by groups " + groups);
        int cpg = c / groups;
        Parallel.forRange(n * groups, (g0, g1) -> {
            for (int ng = g0; ng < g1; ng++) {
                int b = ng / groups, g = ng % groups;
                int base = (b * c + g * cpg) * hw;
                int len = cpg * hw;
                double sum = 0;
                for (int i = 0; i < len; i++) sum += x[base + i];
                double mean = sum / len;
                double sq = 0;
                for (int i = 0; i < len; i++) {
                    double d = x[base + i] - mean;
                    sq += d * d;
                }
                double inv = 1.0 / Math.sqrt(sq / len + eps);
                for (int ci = 0; ci < cpg; ci++) {
                    int ch = g * cpg + ci;
                    float sc = (float) (inv * (gamma == null ? 1f : gamma[ch]));
                    float sh = (float) ((beta == null ? 0f : beta[ch]) - mean * inv * (gamma == null ? 1f : gamma[ch]));
                    int o = base + ci * hw;
                    for (int i = 0; i < hw; i++) {
                        float v = x[o + i] * sc + sh;
                        y[o + i] = silu ? Activations.silu(v) : v;
                    }
                }
            }
        });
    }
}

package dev.jdiffusion.kernels;

/** Group normalisation over NCHW (statistics accumulated in double lanes, vectorised), with optional fused SiLU. */
public final class GroupNorm {
    private GroupNorm() {}

    /**
     * y = (x - mean_g) / sqrt(var_g + eps) * gamma[c] + beta[c], then SiLU when silu. x and y are
     * {@code n x c x hw}; y may alias x. gamma/beta may be null (affine off).
     */
    public static void forward(float[] x, int n, int c, int hw, int groups, float[] gamma, float[] beta, float eps,
                               boolean silu, float[] y) {
        long prof0 = Profiler.start();
        try {
            if (c % groups != 0) throw new IllegalArgumentException("channels " + c + " not divisible by groups " + groups);
            int cpg = c / groups;
            Parallel.forRange(n * groups, 1, (g0, g1) -> {
                for (int ng = g0; ng < g1; ng++) {
                    int b = ng / groups, g = ng % groups;
                    int base = (b * c + g * cpg) * hw;
                    int len = cpg * hw;
                    double mean = VMath.sum(x, base, len) / len;
                    double inv = 1.0 / Math.sqrt(VMath.sumSquaredDeviations(x, base, len, mean) / len + eps);
                    for (int ci = 0; ci < cpg; ci++) {
                        int ch = g * cpg + ci;
                        float sc = (float) (inv * (gamma == null ? 1f : gamma[ch]));
                        float sh = beta == null ? 0f : beta[ch];
                        int o = base + ci * hw;
                        VMath.normalize(x, o, y, o, hw, (float) mean, sc, sh, silu);
                    }
                }
            });
        } finally {
            Profiler.stop(Profiler.Op.GROUP_NORM, prof0, 0, n, c, hw, -1, -1);
        }
    }
}

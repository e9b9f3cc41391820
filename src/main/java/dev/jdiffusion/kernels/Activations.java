package dev.jdiffusion.kernels;

/** Element-wise activations: SiLU, GELU (exact, erf), GELU tanh approximation, quick-GELU, and GEGLU. */
public final class Activations {
    private Activations() {}

    public static float silu(float x) { return x / (1f + (float) Math.exp(-x)); }

    /** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), as torch's default. */
    public static float gelu(float x) { return (float) (0.5 * x * (1.0 + Erf.erf(x * 0.7071067811865476))); }

    /** CLIP's quick GELU: x * sigmoid(1.702 x). */
    public static float quickGelu(float x) { return x / (1f + (float) Math.exp(-1.702f * x)); }

    public static void silu(float[] x, int off, int n) { for (int i = off; i < off + n; i++) x[i] = silu(x[i]); }

    public static void gelu(float[] x, int off, int n) { for (int i = off; i < off + n; i++) x[i] = gelu(x[i]); }

    public static void quickGelu(float[] x, int off, int n) { for (int i = off; i < off + n; i++) x[i] = quickGelu(x[i]); }

    /**
     * GEGLU: x is rows x 2d (the projection's output: first half value, second half gate),
     * out[r, j] = x[r, j] * gelu(x[r, d + j]); out is rows x d.
     */
    public static void geglu(float[] x, int rows, int d, float[] out) {
        Parallel.forRange(rows, 4, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xo = r * 2 * d, oo = r * d;
                for (int j = 0; j < d; j++) out[oo + j] = x[xo + j] * gelu(x[xo + d + j]);
            }
        });
    }
}

package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise activations: SiLU, GELU (exact, erf), quick-GELU, and GEGLU. SiLU and quick-GELU are
 * vectorised on {@link VMath#exp} (about 1 ulp); the scalar forms give the same bits as the array forms.
 * GELU is the exact erf form, evaluated in double lanes by {@link GeluMath} (float-exact in practice); the
 * array forms run in parallel.
 */
public final class Activations {
    private Activations() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float QUICK = 1.702f;
    /** Arrays shorter than this run on the calling thread. */
    private static final int PARALLEL_MIN = 1 << 14;

    public static float silu(float x) { return VMath.silu(x); }

    /** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), as torch's default. */
    public static float gelu(float x) { return GeluMath.gelu(x); }

    /** CLIP's quick GELU: x * sigmoid(1.702 x). */
    public static float quickGelu(float x) { return VMath.sigmoidScaled(x, QUICK); }

    public static void silu(float[] x, int off, int n) {
        long prof0 = Profiler.start();
        try {
            chunks(n, (s, e) -> {
                int i = s;
                for (int ub = s + S.loopBound(e - s); i < ub; i += S.length())
                    VMath.silu(FloatVector.fromArray(S, x, off + i)).intoArray(x, off + i);
                for (; i < e; i++) x[off + i] = VMath.silu(x[off + i]);
            });
        } finally {
            Profiler.stop(Profiler.Op.ACTIVATION, prof0, 0);
        }
    }

    public static void gelu(float[] x, int off, int n) {
        long prof0 = Profiler.start();
        try {
            chunks(n, (s, e) -> GeluMath.gelu(x, off + s, null, 0, x, off + s, e - s));
        } finally {
            Profiler.stop(Profiler.Op.ACTIVATION, prof0, 0);
        }
    }

    public static void quickGelu(float[] x, int off, int n) {
        chunks(n, (s, e) -> {
            int i = s;
            for (int ub = s + S.loopBound(e - s); i < ub; i += S.length())
                VMath.sigmoidScaled(FloatVector.fromArray(S, x, off + i), QUICK).intoArray(x, off + i);
            for (; i < e; i++) x[off + i] = VMath.sigmoidScaled(x[off + i], QUICK);
        });
    }

    /**
     * GEGLU: x is rows x 2d (the projection's output: first half value, second half gate),
     * out[r, j] = x[r, j] * gelu(x[r, d + j]); out is rows x d.
     */
    public static void geglu(float[] x, int rows, int d, float[] out) {
        long prof0 = Profiler.start();
        try {
            Parallel.forRange(rows, 4, (r0, r1) -> {
                for (int r = r0; r < r1; r++) GeluMath.gelu(x, r * 2 * d + d, x, r * 2 * d, out, r * d, d);
            });
        } finally {
            Profiler.stop(Profiler.Op.ACTIVATION, prof0, 0);
        }
    }

    /** Splits [0, n) into fixed chunks (a multiple of the vector length) across the pool when n is large. */
    private static void chunks(int n, Parallel.RangeBody body) {
        if (n < PARALLEL_MIN) body.run(0, n);
        else Parallel.forRange(n, 4096, body);
    }
}

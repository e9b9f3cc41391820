package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Element-wise arithmetic on float arrays. */
public final class Elementwise {
    private Elementwise() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * Elements from which an element-wise pass runs on all threads, in chunks of {@link #GRAIN}: one core alone does not
     * reach the memory bandwidth (the VAE's residual adds, 33M floats each at 512x512, ran on one thread).
     */
    static final int PARALLEL_FROM = 1 << 16, GRAIN = 1 << 14;

    /** out[i] = a[i] + b[i] for n elements from the given offsets; out may alias a or b. */
    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        long prof0 = Profiler.start();
        try {
            if (n >= PARALLEL_FROM) Parallel.forRange(n, GRAIN, (i0, i1) -> addRange(a, aOff + i0, b, bOff + i0, out, oOff + i0, i1 - i0));
            else addRange(a, aOff, b, bOff, out, oOff, n);
        } finally {
            Profiler.stop(Profiler.Op.ELEMENTWISE, prof0, 0);
        }
    }

    private static void addRange(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i)).intoArray(out, oOff + i);
        for (; i < n; i++) out[oOff + i] = a[aOff + i] + b[bOff + i];
    }

    /** a[i] += b[i] over n elements. */
    public static void addInPlace(float[] a, float[] b, int n) { add(a, 0, b, 0, a, 0, n); }

    /** out[i] = a[i] * b[i]. */
    public static void mul(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, a, aOff + i).mul(FloatVector.fromArray(S, b, bOff + i)).intoArray(out, oOff + i);
        for (; i < n; i++) out[oOff + i] = a[aOff + i] * b[bOff + i];
    }

    /** x[i] *= s. */
    public static void scale(float[] x, int off, int n, float s) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, x, off + i).mul(s).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= s;
    }

    /** x[b, c, :] += v[b, c] for NCHW x with hw elements per channel (per-channel bias or time embedding). */
    public static void addPerChannel(float[] x, int n, int c, int hw, float[] v) {
        long prof0 = Profiler.start();
        try {
            Parallel.forRange(n * c, (long) n * c * hw >= PARALLEL_FROM ? Math.max(1, GRAIN / Math.max(1, hw)) : n * c, (p0, p1) -> {
                for (int bc = p0; bc < p1; bc++) {
                    float s = v[bc];
                    int o = bc * hw;
                    int i = 0;
                    for (int ub = S.loopBound(hw); i < ub; i += S.length())
                        FloatVector.fromArray(S, x, o + i).add(s).intoArray(x, o + i);
                    for (; i < hw; i++) x[o + i] += s;
                }
            });
        } finally {
            Profiler.stop(Profiler.Op.ELEMENTWISE, prof0, 0);
        }
    }
}

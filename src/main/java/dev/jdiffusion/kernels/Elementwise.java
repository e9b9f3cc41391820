package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Element-wise arithmetic on float arrays. */
public final class Elementwise {
    private Elementwise() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** out[i] = a[i] + b[i] for n elements from the given offsets; out may alias a or b. */
    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int oOff, int n) {
        long prof0 = Profiler.start();
        try {
            int i = 0;
            for (int ub = S.loopBound(n); i < ub; i += S.length())
                FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i)).intoArray(out, oOff + i);
            for (; i < n; i++) out[oOff + i] = a[aOff + i] + b[bOff + i];
        } finally {
            Profiler.stop(Profiler.Op.ELEMENTWISE, prof0, 0);
        }
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
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < c; ch++) {
                    float s = v[b * c + ch];
                    int o = (b * c + ch) * hw;
                    int i = 0;
                    for (int ub = S.loopBound(hw); i < ub; i += S.length())
                        FloatVector.fromArray(S, x, o + i).add(s).intoArray(x, o + i);
                    for (; i < hw; i++) x[o + i] += s;
                }
        } finally {
            Profiler.stop(Profiler.Op.ELEMENTWISE, prof0, 0);
        }
    }
}

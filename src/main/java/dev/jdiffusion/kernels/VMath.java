package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised float math built only from IEEE-exact operations (add, mul, fma, integer bit tricks), so a lane
 * and the scalar twin give bit-identical results whether the JIT has compiled the code or not (the Vector
 * API's own EXP and float ADD reductions may differ between interpreter and compiled code).
 *
 * <p>exp: Cody-Waite reduction by ln 2 and a degree-6 minimax polynomial (Cephes expf), max error about 1 ulp
 * over [-87, 88]; results below e^-88 flush to 0, above e^88.7 give +Inf.
 */
final class VMath {
    private VMath() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    private static final float LOG2E = 1.44269504088896341f;
    private static final float MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float C1 = 0.693359375f, C2 = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    private static final float LO = -88f, HI = 88.72283f;

    static FloatVector exp(FloatVector x) {
        x = x.max(LO).min(HI);
        FloatVector n = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, MAGIC)).sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(S, -C1), x);
        r = n.fma(FloatVector.broadcast(S, -C2), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector r2 = r.mul(r);
        p = p.fma(r2, r).add(1f);
        IntVector ni = (IntVector) n.convert(VectorOperators.F2I, 0);
        FloatVector scale = ni.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector res = p.mul(scale);
        return res.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GE, HI));
    }

    /** The scalar twin of {@link #exp(FloatVector)}: bit-identical per lane. */
    static float exp(float x) {
        x = Math.min(Math.max(x, LO), HI);
        if (Float.isNaN(x)) return x;
        float n = Math.fma(x, LOG2E, MAGIC) - MAGIC;
        float r = Math.fma(n, -C1, x);
        r = Math.fma(n, -C2, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float r2 = r * r;
        p = Math.fma(p, r2, r) + 1f;
        float res = p * Float.intBitsToFloat(((int) n + 127) << 23);
        return x >= HI ? Float.POSITIVE_INFINITY : res;
    }

    /** Sum of the lanes in a fixed order (lane 0 first), identical compiled or interpreted. */
    static float sumLanes(FloatVector v, float[] tmp) {
        v.intoArray(tmp, 0);
        float s = 0f;
        for (int i = 0; i < L; i++) s += tmp[i];
        return s;
    }
}

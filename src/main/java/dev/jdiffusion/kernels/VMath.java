package dev.jdiffusion.kernels;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vectorised float math built only from IEEE-exact operations (add, mul, fma, integer bit tricks), so a lane
 * and the scalar twin give bit-identical results whether the JIT has compiled the code or not (the Vector
 * API's own EXP and float ADD reductions may differ between interpreter and compiled code).
 *
 * <p>Clamps are written as a compare and a blend, inline at each use: the Vector API's max and min follow Math.max
 * (NaN wins, -0 < +0), which C2 builds on x86 from several more instructions (exp's two clamps took as long as the rest
 * of exp), and a helper method taking vectors is not always inlined by C2 (its vectors are then allocated: a shared
 * clamp helper made whole runs' attention 2x slower in four runs of five). For a bound that is neither NaN nor zero the
 * result is the same bits, NaN lanes included (they stay NaN).
 *
 * <p>exp: Cody-Waite reduction by ln 2 and a degree-6 minimax polynomial (Cephes expf), max error about 1 ulp
 * over [-87, 88]; results below e^-88 flush to 0, and those for x from about 88.38 are +Inf (n reaches 128, past the exponent).
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

    /**
     * e^x. Above HI the clamp alone gives +Inf: at HI (and from about 88.38) n is 128, whose 2^n bits are +Inf's, times a
     * positive polynomial (the scalar twin's result there too), so no blend of the overflow is needed.
     */
    static FloatVector exp(FloatVector x) {
        return expInRange(x.blend(LO, x.compare(VectorOperators.LT, LO)).blend(HI, x.compare(VectorOperators.GE, HI)));
    }

    /**
     * e^x for x <= 0 (softmax's shifted scores; -Inf gives e^-88, as {@link #exp(FloatVector)} does): the same bits as
     * exp, without its upper clamp and overflow blend, which change nothing there.
     */
    static FloatVector expNonPositive(FloatVector x) {
        return expInRange(x.blend(LO, x.compare(VectorOperators.LT, LO)));
    }

    /**
     * {@link #expNonPositive} for x that is not NaN, with the lower clamp as one unsigned integer minimum of the bits
     * (a compare and a blend are two instructions, four micro-ops on Intel cores under AVX2): the bits of a float at or
     * below -0 grow with its magnitude, -Inf's largest, and those of +0 and positive floats are smaller than all of them,
     * so min(bits(x), bits(LO)) is LO for x below LO and x otherwise, as the blend gives. The same bits as
     * expNonPositive for every x but NaN; a NaN with its sign bit set (the NaN x86 arithmetic makes) gives e^-88
     * instead of NaN, so callers use this only where they have ruled NaN out.
     */
    static FloatVector expNonPositiveNotNaN(FloatVector x) {
        return expInRange(x.reinterpretAsInts().lanewise(VectorOperators.UMIN, LO_BITS).reinterpretAsFloats());
    }

    /**
     * {@link #exp(FloatVector)} for x that is not NaN, its clamps as two integer minima of the bits (a signed one with
     * HI's bits: a positive float's bits order as its value, a negative one's are negative ints; then the unsigned one
     * of {@link #expNonPositiveNotNaN}): the same bits as exp for every x but NaN, which gives a finite value here. For
     * SiLU and the sigmoids, x / (1 + e^(-k x)), where a NaN x makes the quotient NaN either way.
     */
    static FloatVector expNotNaN(FloatVector x) {
        return expInRange(x.reinterpretAsInts().min(HI_BITS).lanewise(VectorOperators.UMIN, LO_BITS).reinterpretAsFloats());
    }

    private static final int LO_BITS = Float.floatToRawIntBits(LO), HI_BITS = Float.floatToRawIntBits(HI);
    /** MAGIC + 127: rounding x log2e by adding it leaves n + 127 in the low mantissa bits (see {@link #expInRange}). */
    private static final float MAGIC_BIASED = MAGIC + 127f;

    /**
     * The body of exp for x in [LO, HI]. 2^n is built from the bits of t = x log2e + 1.5 * 2^23 + 127 (one fma, then
     * rounded to an integer: the spacing of floats in [2^23, 2^24) is 1), whose low mantissa bits hold n + 127: shifted
     * left by 23 (the exponent bits of t fall off) they are the float 2^n. n is the n a float-to-int conversion of
     * x log2e + 1.5 * 2^23 gives (the scalar twin's): adding 127 first changes the rounding only where x log2e is an
     * exact half-integer, which needs |x| >= 2^22 (log2e's significand is odd), far outside [LO, HI].
     */
    private static FloatVector expInRange(FloatVector x) {
        FloatVector t = x.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, MAGIC_BIASED));
        FloatVector n = t.sub(MAGIC_BIASED);
        FloatVector r = n.fma(FloatVector.broadcast(S, -C1), x);
        r = n.fma(FloatVector.broadcast(S, -C2), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector r2 = r.mul(r);
        p = p.fma(r2, r).add(1f);
        FloatVector scale = t.reinterpretAsInts().lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale);
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

    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

    /** Sum of a[off..off+n) accumulated in double lanes (then lanes in order): deterministic and near-exact. */
    static double sum(float[] a, int off, int n) {
        DoubleVector acc0 = DoubleVector.zero(D), acc1 = DoubleVector.zero(D);
        int i = 0;
        int parts = L / D.length();
        if (parts == 2) {
            for (int ub = S.loopBound(n); i < ub; i += L) {
                FloatVector v = FloatVector.fromArray(S, a, off + i);
                acc0 = acc0.add((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0));
                acc1 = acc1.add((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1));
            }
        }
        double s = laneSum(acc0.add(acc1));
        for (; i < n; i++) s += a[off + i];
        return s;
    }

    /** Sum of (a[i] - mean)^2 over a[off..off+n), in double like {@link #sum}. */
    static double sumSquaredDeviations(float[] a, int off, int n, double mean) {
        DoubleVector acc0 = DoubleVector.zero(D), acc1 = DoubleVector.zero(D);
        DoubleVector m = DoubleVector.broadcast(D, mean);
        int i = 0;
        int parts = L / D.length();
        if (parts == 2) {
            for (int ub = S.loopBound(n); i < ub; i += L) {
                FloatVector v = FloatVector.fromArray(S, a, off + i);
                DoubleVector d0 = ((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0)).sub(m);
                DoubleVector d1 = ((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1)).sub(m);
                acc0 = d0.fma(d0, acc0);
                acc1 = d1.fma(d1, acc1);
            }
        }
        double s = laneSum(acc0.add(acc1));
        for (; i < n; i++) {
            double d = a[off + i] - mean;
            s += d * d;
        }
        return s;
    }

    private static double laneSum(DoubleVector v) {
        double[] t = new double[D.length()];
        v.intoArray(t, 0);
        double s = 0;
        for (double x : t) s += x;
        return s;
    }

    /** y[i] = (x[i] - mean) * sc + sh for n elements, then SiLU when silu. y may alias x. */
    static void normalize(float[] x, int xo, float[] y, int yo, int n, float mean, float sc, float sh, boolean silu) {
        FloatVector vm = FloatVector.broadcast(S, mean), vs = FloatVector.broadcast(S, sc), vh = FloatVector.broadcast(S, sh);
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i).sub(vm).fma(vs, vh);
            if (silu) v = silu(v);
            v.intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            float v = Math.fma(x[xo + i] - mean, sc, sh);
            y[yo + i] = silu ? silu(v) : v;
        }
    }

    /** SiLU x * sigmoid(x) = x / (1 + e^-x). */
    static FloatVector silu(FloatVector x) { return x.div(expNotNaN(x.neg()).add(1f)); }

    static float silu(float x) { return x / (1f + exp(-x)); }

    /** x / (1 + e^(-k x)) (quick GELU with k = 1.702). */
    static FloatVector sigmoidScaled(FloatVector x, float k) { return x.div(expNotNaN(x.mul(-k)).add(1f)); }

    static float sigmoidScaled(float x, float k) { return x / (1f + exp(x * -k)); }
}

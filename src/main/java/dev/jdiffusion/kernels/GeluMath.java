package dev.jdiffusion.kernels;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Exact (erf) GELU, vectorised: 0.5 x (1 + erf(x / sqrt 2)) evaluated in double lanes with W. J. Cody's
 * rational approximations of erf / erfc (|rel err| < 1e-15) and a Taylor exp, then rounded to float, so the
 * float result is correctly rounded in practice. 1 + erf is formed as erfc for negative arguments, keeping
 * relative precision far into the tail.
 *
 * <p>Every lane evaluates the numerators and denominators of all three of Cody's ranges (lanes mix them), but
 * picks its range's pair before the one division: one division per lane instead of five (the far-tail form
 * r = q N(q) / D(q), q = 1 / z^2, is multiplied through by z^10 into polynomials in z^2). Polynomials are
 * Horner chains of fused multiply-adds. Only fma/add/mul/div/compare/blend are used, and the scalar twin
 * {@link #gelu(float)} performs the same operations, so every element gets the same bits on any path.
 */
final class GeluMath {
    private GeluMath() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_PREFERRED;
    /**
     * True when one float vector splits into exactly two double vectors of at least 4 lanes (the vector path). With
     * 2-lane doubles (128-bit vectors) C2 runs the double compares as the Vector API's Java fallback: GELU took 68 ns
     * per element on 2 threads against 7 for the scalar twin (Xeon, -XX:MaxVectorSize=16), so those take the scalar path.
     */
    static final boolean VECTOR = S.length() == 2 * D.length() && LS.length() == D.length() && D.length() >= 4;
    /** Floats as many as a double vector has lanes (half the preferred width): what one step of the loop widens. */
    private static final VectorSpecies<Float> HALF = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));

    private static final double A0 = 3.16112374387056560e00, A1 = 1.13864154151050156e02, A2 = 3.77485237685302021e02,
            A3 = 3.20937758913846947e03, A4 = 1.85777706184603153e-1;
    private static final double B0 = 2.36012909523441209e01, B1 = 2.44024637934444173e02, B2 = 1.28261652607737228e03,
            B3 = 2.84423683343917062e03;
    private static final double C0 = 5.64188496988670089e-1, C1 = 8.88314979438837594e00, C2 = 6.61191906371416295e01,
            C3 = 2.98635138197400131e02, C4 = 8.81952221241769090e02, C5 = 1.71204761263407058e03,
            C6 = 2.05107837782607147e03, C7 = 1.23033935479799725e03, C8 = 2.15311535474403846e-8;
    private static final double D0 = 1.57449261107098347e01, D1 = 1.17693950891312499e02, D2 = 5.37181101862009858e02,
            D3 = 1.62138957456669019e03, D4 = 3.29079923573345963e03, D5 = 4.36261909014324716e03,
            D6 = 3.43936767414372164e03, D7 = 1.23033935480374942e03;
    private static final double P0 = 3.05326634961232344e-1, P1 = 3.60344899949804439e-1, P2 = 1.25781726111229246e-1,
            P3 = 1.60837851487422766e-2, P4 = 6.58749161529837803e-4, P5 = 1.63153871373020978e-2;
    private static final double Q0 = 2.56852019228982242e00, Q1 = 1.87295284992346725e00, Q2 = 5.27905102951428412e-1,
            Q3 = 6.05183413124413191e-2, Q4 = 2.33520497626869185e-3;
    private static final double SQRPI = 5.6418958354775628695e-1, RSQRT2 = 0.7071067811865476;
    private static final double LOG2E = 1.4426950408889634, LN2HI = 6.93147180369123816490e-01, LN2LO = 1.90821492927058770002e-10;
    private static final double MAGIC = 6755399441055744.0; // 1.5 * 2^52
    private static final long MAGIC_BITS = Double.doubleToRawLongBits(MAGIC);
    private static final double SMALL = 0.46875, MID = 4.0, EXP_MIN = -708.0;
    /**
     * The far-tail polynomials are evaluated at z^2 clamped to TAIL_MAX (|z| to TAIL_Y), which keeps their degree-6
     * denominator finite; beyond it e^-z^2 is 0, so the clamp changes no result.
     */
    private static final double TAIL_MAX = 720.0, TAIL_Y = 26.832815729997478;

    // ---- scalar twin ----

    static float gelu(float xf) {
        if (xf != xf) return xf;   // NaN: itself (the vector twin blends it back; the arithmetic's NaN sign varied by width)
        double x = xf, z = x * RSQRT2, y = Math.abs(z), ysq = y * y;
        double num, den;
        if (y <= SMALL) {
            num = z * smallNum(ysq);
            den = smallDen(ysq);
        } else if (y > MID) {
            double t = Math.min(ysq, TAIL_MAX), yt = Math.min(y, TAIL_Y);
            double d = tailDen(t);
            num = Math.fma(SQRPI * t, d, -tailNum(t));
            den = yt * t * d;
        } else {
            num = midNum(y);
            den = midDen(y);
        }
        double r = num / den, onePlusErf;
        if (y <= SMALL) {
            onePlusErf = 1.0 + r;
        } else {
            double erfc = exp(-ysq) * r;
            onePlusErf = z < 0 ? erfc : 2.0 - erfc;
        }
        return (float) (0.5 * x * onePlusErf);
    }

    // Cody's polynomials, as Horner chains of fmas (the same chain in both twins).
    private static double smallNum(double t) { return Math.fma(Math.fma(Math.fma(Math.fma(A4, t, A0), t, A1), t, A2), t, A3); }
    private static double smallDen(double t) { return Math.fma(Math.fma(Math.fma(t + B0, t, B1), t, B2), t, B3); }
    private static double midNum(double y) {
        double p = Math.fma(C8, y, C0);
        p = Math.fma(p, y, C1); p = Math.fma(p, y, C2); p = Math.fma(p, y, C3);
        p = Math.fma(p, y, C4); p = Math.fma(p, y, C5); p = Math.fma(p, y, C6);
        return Math.fma(p, y, C7);
    }
    private static double midDen(double y) {
        double p = y + D0;
        p = Math.fma(p, y, D1); p = Math.fma(p, y, D2); p = Math.fma(p, y, D3);
        p = Math.fma(p, y, D4); p = Math.fma(p, y, D5); p = Math.fma(p, y, D6);
        return Math.fma(p, y, D7);
    }
    /** z^10 q N(q) for q = 1/t, t = z^2: P5 + P0 t + P1 t^2 + P2 t^3 + P3 t^4 + P4 t^5 (the t^-1 factor is in den). */
    private static double tailNum(double t) { return Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(P4, t, P3), t, P2), t, P1), t, P0), t, P5); }
    /** z^10 D(q): 1 + Q0 t + Q1 t^2 + Q2 t^3 + Q3 t^4 + Q4 t^5. */
    private static double tailDen(double t) { return Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Q4, t, Q3), t, Q2), t, Q1), t, Q0), t, 1.0); }

    /** e^t for t <= 0 in double (Cody-Waite by ln 2, degree-11 Taylor), 0 below e^-708. */
    static double exp(double t) {
        double tm = Math.fma(t, LOG2E, MAGIC), n = tm - MAGIC;
        double r = Math.fma(n, -LN2LO, Math.fma(n, -LN2HI, t));
        double p = 1.0 / 39916800;
        p = Math.fma(p, r, 1.0 / 3628800);
        p = Math.fma(p, r, 1.0 / 362880);
        p = Math.fma(p, r, 1.0 / 40320);
        p = Math.fma(p, r, 1.0 / 5040);
        p = Math.fma(p, r, 1.0 / 720);
        p = Math.fma(p, r, 1.0 / 120);
        p = Math.fma(p, r, 1.0 / 24);
        p = Math.fma(p, r, 1.0 / 6);
        p = Math.fma(p, r, 0.5);
        p = Math.fma(p, r, 1.0);
        p = Math.fma(p, r, 1.0);
        double e = p * Double.longBitsToDouble(Double.doubleToRawLongBits(tm) - (MAGIC_BITS - 1023L) << 52);
        return t < EXP_MIN ? 0.0 : e;
    }

    // ---- vector ----

    /**
     * out[oo + i] = m[mo + i] * gelu(g[go + i]) for i < n, or gelu(g[go + i]) when m is null (GEGLU's value half is m,
     * its gate half g); out may be g or m (in place).
     *
     * <p>The whole computation is one loop body, not a call per vector: C2 does not inline a method of this size
     * ("hot method too big"), and vectors passed to or returned from a call it did not inline are boxed, which made
     * GELU several times slower. Each step loads as many floats as a double vector has lanes (a half-width float
     * vector), widens them, and narrows the result back.
     */
    static void gelu(float[] g, int go, float[] m, int mo, float[] out, int oo, int n) {
        int i = 0;
        if (VECTOR) {
            DoubleVector vA0 = bc(A0), vA1 = bc(A1), vA2 = bc(A2), vA3 = bc(A3), vA4 = bc(A4), vB1 = bc(B1), vB2 = bc(B2), vB3 = bc(B3);
            DoubleVector vC0 = bc(C0), vC1 = bc(C1), vC2 = bc(C2), vC3 = bc(C3), vC4 = bc(C4), vC5 = bc(C5), vC6 = bc(C6),
                    vC7 = bc(C7), vC8 = bc(C8);
            DoubleVector vD1 = bc(D1), vD2 = bc(D2), vD3 = bc(D3), vD4 = bc(D4), vD5 = bc(D5), vD6 = bc(D6), vD7 = bc(D7);
            DoubleVector vP0 = bc(P0), vP1 = bc(P1), vP2 = bc(P2), vP3 = bc(P3), vP4 = bc(P4), vP5 = bc(P5);
            DoubleVector vQ0 = bc(Q0), vQ1 = bc(Q1), vQ2 = bc(Q2), vQ3 = bc(Q3), vQ4 = bc(Q4);
            DoubleVector vLOG2E = bc(LOG2E), vMAGIC = bc(MAGIC), vNLN2HI = bc(-LN2HI), vNLN2LO = bc(-LN2LO);
            DoubleVector vE11 = bc(1.0 / 39916800), vE10 = bc(1.0 / 3628800), vE9 = bc(1.0 / 362880), vE8 = bc(1.0 / 40320),
                    vE7 = bc(1.0 / 5040), vE6 = bc(1.0 / 720), vE5 = bc(1.0 / 120), vE4 = bc(1.0 / 24), vE3 = bc(1.0 / 6),
                    vHALF = bc(0.5), one = bc(1.0), two = bc(2.0);
            for (int ub = HALF.loopBound(n); i < ub; i += HALF.length()) {
                FloatVector xf = FloatVector.fromArray(HALF, g, go + i);
                DoubleVector x = (DoubleVector) xf.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector z = x.mul(RSQRT2), y = z.abs(), ysq = y.mul(y);
                VectorMask<Double> small = y.compare(VectorOperators.LE, SMALL), tail = y.compare(VectorOperators.GT, MID);
                // |z| <= 0.46875: 1 + z Ns / Ds
                DoubleVector sn = z.mul(ysq.fma(vA4, vA0).fma(ysq, vA1).fma(ysq, vA2).fma(ysq, vA3));
                DoubleVector sd = ysq.add(B0).fma(ysq, vB1).fma(ysq, vB2).fma(ysq, vB3);
                // 0.46875 < |z| <= 4: erfc = e^-z^2 Nm / Dm
                DoubleVector mn = y.fma(vC8, vC0).fma(y, vC1).fma(y, vC2).fma(y, vC3).fma(y, vC4).fma(y, vC5).fma(y, vC6).fma(y, vC7);
                DoubleVector md = y.add(D0).fma(y, vD1).fma(y, vD2).fma(y, vD3).fma(y, vD4).fma(y, vD5).fma(y, vD6).fma(y, vD7);
                // |z| > 4: erfc = e^-z^2 (SQRPI - q N(q) / D(q)) / |z|, q = 1/z^2, as (SQRPI t D' - N') / (|z| t D')
                // min as compare + blend (Math.min's NaN and signed-zero rules cost C2 more instructions; same bits here, y >= 0)
                DoubleVector t = ysq.blend(TAIL_MAX, ysq.compare(VectorOperators.GT, TAIL_MAX)),
                        yt = y.blend(TAIL_Y, y.compare(VectorOperators.GT, TAIL_Y));
                DoubleVector td = t.fma(vQ4, vQ3).fma(t, vQ2).fma(t, vQ1).fma(t, vQ0).fma(t, one);
                DoubleVector tn = t.mul(SQRPI).fma(td, t.fma(vP4, vP3).fma(t, vP2).fma(t, vP1).fma(t, vP0).fma(t, vP5).neg());
                DoubleVector tdd = yt.mul(t).mul(td);
                DoubleVector num = mn.blend(tn, tail).blend(sn, small), den = md.blend(tdd, tail).blend(sd, small);
                DoubleVector r = num.div(den);
                // e^-z^2 (as exp(double), written out here: a call C2 does not inline boxes its vectors)
                DoubleVector e = ysq.neg();
                DoubleVector em = e.fma(vLOG2E, vMAGIC), en = em.sub(MAGIC);
                DoubleVector er = en.fma(vNLN2LO, en.fma(vNLN2HI, e));
                DoubleVector ep = er.fma(vE11, vE10).fma(er, vE9).fma(er, vE8).fma(er, vE7).fma(er, vE6).fma(er, vE5).fma(er, vE4)
                        .fma(er, vE3).fma(er, vHALF).fma(er, one).fma(er, one);
                // 2^n built from the bits of the rounding sum t log2e + 1.5 * 2^52, whose low mantissa bits hold the integer
                // n: no double-to-long conversion, which AVX2 lacks (C2 then ran the Vector API's Java fallback: GELU 12x
                // slower under UseAVX=2)
                LongVector bits = em.reinterpretAsLongs().sub(MAGIC_BITS - 1023L).lanewise(VectorOperators.LSHL, 52);
                DoubleVector erfc = ep.mul(bits.reinterpretAsDoubles()).blend(0.0, e.compare(VectorOperators.LT, EXP_MIN)).mul(r);
                DoubleVector onePlusErf = two.sub(erfc).blend(erfc, z.compare(VectorOperators.LT, 0.0)).blend(r.add(1.0), small);
                FloatVector v = ((FloatVector) x.mul(0.5).mul(onePlusErf).convertShape(VectorOperators.D2F, HALF, 0))
                        .blend(xf, xf.compare(VectorOperators.NE, xf));   // NaN: itself, as the scalar twin
                if (m != null) v = FloatVector.fromArray(HALF, m, mo + i).mul(v);
                v.intoArray(out, oo + i);
            }
        }
        for (; i < n; i++) {
            float v = gelu(g[go + i]);
            out[oo + i] = m == null ? v : m[mo + i] * v;
        }
    }

    private static DoubleVector bc(double v) { return DoubleVector.broadcast(D, v); }
}

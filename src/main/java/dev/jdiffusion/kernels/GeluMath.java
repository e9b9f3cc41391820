package dev.jdiffusion.kernels;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Exact (erf) GELU, vectorised: 0.5 x (1 + erf(x / sqrt 2)) evaluated in double lanes with W. J. Cody's
 * rational approximations of erf / erfc (|rel err| < 1e-15) and a Taylor exp, then rounded to float, so the
 * float result is correctly rounded in practice. 1 + erf is formed as erfc for negative arguments, keeping
 * relative precision far into the tail. Only add/mul/div/compare/blend are used, and the scalar twin
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

    // ---- scalar twin ----

    static float gelu(float xf) {
        double x = xf, z = x * RSQRT2, y = Math.abs(z), ysq = y * y;
        double onePlusErf;
        if (y <= SMALL) {
            double xnum = A4 * ysq, xden = ysq;
            xnum = (xnum + A0) * ysq; xden = (xden + B0) * ysq;
            xnum = (xnum + A1) * ysq; xden = (xden + B1) * ysq;
            xnum = (xnum + A2) * ysq; xden = (xden + B2) * ysq;
            onePlusErf = 1.0 + z * (xnum + A3) / (xden + B3);
        } else {
            double r;
            if (y <= MID) {
                double xnum = C8 * y, xden = y;
                xnum = (xnum + C0) * y; xden = (xden + D0) * y;
                xnum = (xnum + C1) * y; xden = (xden + D1) * y;
                xnum = (xnum + C2) * y; xden = (xden + D2) * y;
                xnum = (xnum + C3) * y; xden = (xden + D3) * y;
                xnum = (xnum + C4) * y; xden = (xden + D4) * y;
                xnum = (xnum + C5) * y; xden = (xden + D5) * y;
                xnum = (xnum + C6) * y; xden = (xden + D6) * y;
                r = (xnum + C7) / (xden + D7);
            } else {
                double q = 1.0 / ysq, xnum = P5 * q, xden = q;
                xnum = (xnum + P0) * q; xden = (xden + Q0) * q;
                xnum = (xnum + P1) * q; xden = (xden + Q1) * q;
                xnum = (xnum + P2) * q; xden = (xden + Q2) * q;
                xnum = (xnum + P3) * q; xden = (xden + Q3) * q;
                r = q * (xnum + P4) / (xden + Q4);
                r = (SQRPI - r) / y;
            }
            double erfc = exp(-ysq) * r;
            onePlusErf = z < 0 ? erfc : 2.0 - erfc;
        }
        return (float) (0.5 * x * onePlusErf);
    }

    /** e^t for t <= 0 in double (Cody-Waite by ln 2, degree-11 Taylor), flushing below e^-708 to 0. */
    static double exp(double t) {
        t = Math.max(t, EXP_MIN);
        double n = (t * LOG2E + MAGIC) - MAGIC;
        double r = (t - n * LN2HI) - n * LN2LO;
        double p = poly(r);
        return p * Double.longBitsToDouble(((long) n + 1023) << 52);
    }

    private static double poly(double r) {
        double p = 1.0 / 39916800;
        p = p * r + 1.0 / 3628800;
        p = p * r + 1.0 / 362880;
        p = p * r + 1.0 / 40320;
        p = p * r + 1.0 / 5040;
        p = p * r + 1.0 / 720;
        p = p * r + 1.0 / 120;
        p = p * r + 1.0 / 24;
        p = p * r + 1.0 / 6;
        p = p * r + 0.5;
        p = p * r + 1.0;
        return p * r + 1.0;
    }

    // ---- vector ----

    /** gelu on one float vector (requires {@link #VECTOR}). */
    static FloatVector gelu(FloatVector xf) {
        DoubleVector lo = gelu((DoubleVector) xf.convertShape(VectorOperators.F2D, D, 0));
        DoubleVector hi = gelu((DoubleVector) xf.convertShape(VectorOperators.F2D, D, 1));
        FloatVector flo = (FloatVector) lo.convertShape(VectorOperators.D2F, S, 0);
        FloatVector fhi = (FloatVector) hi.convertShape(VectorOperators.D2F, S, -1);
        return flo.blend(fhi, UPPER);
    }

    private static final VectorMask<Float> UPPER = VectorMask.fromLong(S, ~((1L << (S.length() / 2)) - 1));

    private static DoubleVector gelu(DoubleVector x) {
        DoubleVector z = x.mul(RSQRT2), y = z.abs(), ysq = y.mul(y);
        // |z| <= 0.46875
        DoubleVector xnum = ysq.mul(A4), xden = ysq;
        xnum = xnum.add(A0).mul(ysq); xden = xden.add(B0).mul(ysq);
        xnum = xnum.add(A1).mul(ysq); xden = xden.add(B1).mul(ysq);
        xnum = xnum.add(A2).mul(ysq); xden = xden.add(B2).mul(ysq);
        DoubleVector small = z.mul(xnum.add(A3)).div(xden.add(B3)).add(1.0);
        // 0.46875 < |z| <= 4
        DoubleVector cn = y.mul(C8), cd = y;
        cn = cn.add(C0).mul(y); cd = cd.add(D0).mul(y);
        cn = cn.add(C1).mul(y); cd = cd.add(D1).mul(y);
        cn = cn.add(C2).mul(y); cd = cd.add(D2).mul(y);
        cn = cn.add(C3).mul(y); cd = cd.add(D3).mul(y);
        cn = cn.add(C4).mul(y); cd = cd.add(D4).mul(y);
        cn = cn.add(C5).mul(y); cd = cd.add(D5).mul(y);
        cn = cn.add(C6).mul(y); cd = cd.add(D6).mul(y);
        DoubleVector rMid = cn.add(C7).div(cd.add(D7));
        // |z| > 4
        DoubleVector q = DoubleVector.broadcast(D, 1.0).div(ysq.max(MID * MID));
        DoubleVector pn = q.mul(P5), pd = q;
        pn = pn.add(P0).mul(q); pd = pd.add(Q0).mul(q);
        pn = pn.add(P1).mul(q); pd = pd.add(Q1).mul(q);
        pn = pn.add(P2).mul(q); pd = pd.add(Q2).mul(q);
        pn = pn.add(P3).mul(q); pd = pd.add(Q3).mul(q);
        DoubleVector rBig = q.mul(pn.add(P4)).div(pd.add(Q4));
        rBig = DoubleVector.broadcast(D, SQRPI).sub(rBig).div(y.max(MID));
        DoubleVector r = rMid.blend(rBig, y.compare(VectorOperators.GT, MID));
        DoubleVector erfc = exp(ysq.neg()).mul(r);
        DoubleVector tail = DoubleVector.broadcast(D, 2.0).sub(erfc).blend(erfc, z.compare(VectorOperators.LT, 0.0));
        DoubleVector onePlusErf = tail.blend(small, y.compare(VectorOperators.LE, SMALL));
        return x.mul(0.5).mul(onePlusErf);
    }

    private static DoubleVector exp(DoubleVector t) {
        t = t.max(EXP_MIN);
        DoubleVector n = t.mul(LOG2E).add(MAGIC).sub(MAGIC);
        DoubleVector r = t.sub(n.mul(LN2HI)).sub(n.mul(LN2LO));
        DoubleVector p = DoubleVector.broadcast(D, 1.0 / 39916800);
        p = p.mul(r).add(1.0 / 3628800);
        p = p.mul(r).add(1.0 / 362880);
        p = p.mul(r).add(1.0 / 40320);
        p = p.mul(r).add(1.0 / 5040);
        p = p.mul(r).add(1.0 / 720);
        p = p.mul(r).add(1.0 / 120);
        p = p.mul(r).add(1.0 / 24);
        p = p.mul(r).add(1.0 / 6);
        p = p.mul(r).add(0.5);
        p = p.mul(r).add(1.0);
        p = p.mul(r).add(1.0);
        // 2^n built from the bits of n + 1.5 * 2^52, whose low mantissa bits hold the integer n: no double-to-long
        // conversion, which AVX2 lacks (C2 then ran the Vector API's Java fallback: GELU 12x slower under UseAVX=2)
        LongVector bits = n.add(MAGIC).reinterpretAsLongs().sub(MAGIC_BITS - 1023L).lanewise(VectorOperators.LSHL, 52);
        return p.mul(bits.reinterpretAsDoubles());
    }
}

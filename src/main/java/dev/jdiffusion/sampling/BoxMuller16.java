package dev.jdiffusion.sampling;

/**
 * The Box-Muller transform of ATen's AVX2 {@code normal_fill_16}, in float arithmetic with the same operations in
 * the same order, so that the results match bit for bit. {@code log} and {@code sincos} are the Cephes-style
 * float approximations of {@code avx_mathfun.h} (a polynomial on the mantissa for log; octant reduction with a
 * three-part pi/4 and two polynomials for sin/cos), not the correctly rounded functions.
 *
 * <p>The reference build (GCC with -mavx2 -mfma) contracts each multiply whose only use is an add into a fused
 * multiply-add, taking the first such multiply in statement order; the {@code Math.fma} calls below sit exactly
 * where it put them (checked bit for bit against torch's output).
 */
final class BoxMuller16 {
    private BoxMuller16() {}


    private static final float TWO_PI = (float) (2.0f * Math.PI);

    // log: mantissa polynomial and ln 2 split in two parts
    private static final float SQRT_HALF = (float) 0.707106781186547524;
    private static final float[] LOG_P = {
            (float) 7.0376836292E-2, (float) -1.1514610310E-1, (float) 1.1676998740E-1, (float) -1.2420140846E-1,
            (float) 1.4249322787E-1, (float) -1.6668057665E-1, (float) 2.0000714765E-1, (float) -2.4999993993E-1,
            (float) 3.3333331174E-1};
    private static final float LN2_LO = (float) -2.12194440e-4;
    private static final float LN2_HI = (float) 0.693359375;

    // sin/cos: 4/pi, pi/4 in three parts, the two polynomials
    private static final float FOUR_OVER_PI = (float) 1.27323954473516;
    private static final float DP1 = (float) -0.78515625;
    private static final float DP2 = (float) -2.4187564849853515625e-4;
    private static final float DP3 = (float) -3.77489497744594108e-8;
    private static final float SIN_P0 = (float) -1.9515295891E-4;
    private static final float SIN_P1 = (float) 8.3321608736E-3;
    private static final float SIN_P2 = (float) -1.6666654611E-1;
    private static final float COS_P0 = (float) 2.443315711809948E-005;
    private static final float COS_P1 = (float) -1.388731625493765E-003;
    private static final float COS_P2 = (float) 4.166664568298827E-002;

    /** Turns the 16 uniforms at data[off..off+16) into 16 standard normals in place. */
    static void transform(float[] data, int off) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1.0f - data[off + j];
            float u2 = data[off + 8 + j];
            float radius = (float) Math.sqrt(-2.0f * log(u1));
            float theta = TWO_PI * u2;
            long sc = sincos(theta);
            float sin = Float.intBitsToFloat((int) (sc >>> 32));
            float cos = Float.intBitsToFloat((int) sc);
            data[off + j] = radius * cos;
            data[off + 8 + j] = radius * sin;
        }
    }

    /** Natural log of a float in (0, 1] (positive normal input). */
    static float log(float x) {
        x = Math.max(x, Float.MIN_NORMAL);
        int bits = Float.floatToRawIntBits(x);
        float e = (float) ((bits >>> 23) - 0x7f) + 1.0f;
        x = Float.intBitsToFloat((bits & ~0x7f800000) | 0x3f000000); // mantissa in [0.5, 1)
        if (x < SQRT_HALF) {
            x = (x - 1.0f) + x;
            e = e - 1.0f;
        } else {
            x = x - 1.0f;
        }
        float z = x * x;
        float y = LOG_P[0];
        for (int i = 1; i < LOG_P.length; i++) y = Math.fma(y, x, LOG_P[i]);
        y = y * x;
        y = Math.fma(y, z, e * LN2_LO);
        y = Math.fma(-z, 0.5f, y);
        return Math.fma(e, LN2_HI, x + y);
    }

    /** sin and cos of a non-negative float, packed as (sin bits &lt;&lt; 32) | cos bits. */
    static long sincos(float x) {
        int j = (int) (x * FOUR_OVER_PI);
        j = (j + 1) & ~1;
        float y = j;
        boolean sinNegative = (j & 4) != 0;
        boolean cosNegative = ((j - 2) & 4) == 0;
        boolean firstOctantPoly = (j & 2) == 0;
        x = Math.fma(y, DP1, x);
        x = Math.fma(y, DP2, x);
        x = Math.fma(y, DP3, x);
        float z = x * x;
        float c = Math.fma(COS_P0, z, COS_P1);
        c = Math.fma(c, z, COS_P2);
        c = c * z;
        c = Math.fma(c, z, -(z * 0.5f));
        c = c + 1.0f;
        float s = Math.fma(SIN_P0, z, SIN_P1);
        s = Math.fma(s, z, SIN_P2);
        s = s * z;
        s = Math.fma(s, x, x);
        float sin = firstOctantPoly ? s : c;
        float cos = firstOctantPoly ? c : s;
        if (sinNegative) sin = -sin;
        if (cosNegative) cos = -cos;
        return ((long) Float.floatToRawIntBits(sin) << 32) | (Float.floatToRawIntBits(cos) & 0xffffffffL);
    }
}

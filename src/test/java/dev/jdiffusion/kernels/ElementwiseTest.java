package dev.jdiffusion.kernels;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Activations (SiLU, exact GELU, quick-GELU, GEGLU), Elementwise and Upsample.nearest.
 * Activation tolerance: 3e-7 relative to |want| + 1e-6 (a few float ulps; quick-GELU times 1 + |1.702 x| since the
 * float product feeds exp); arithmetic and upsampling are exact.
 */
class ElementwiseTest {
    private static final int[] SIZES = {1, 3, 8, 15, 16, 17, 33, 100, 1027};

    private static float[] data(Random r, int n) {
        float[] x = Ref.randn(r, n, 4);
        if (n > 8) { x[0] = 0f; x[1] = -0f; x[2] = 30f; x[3] = -30f; x[4] = 1e-6f; x[5] = -9f; x[6] = 88f; x[7] = -100f; }
        return x;
    }

    @Test
    void activations() {
        Random r = new Random(10);
        for (int n : SIZES) {
            float[] x = data(r, n + 4);
            double[] s = new double[n], g = new double[n], q = new double[n];
            for (int i = 0; i < n; i++) {
                s[i] = Ref.silu(x[2 + i]);
                g[i] = Ref.gelu(x[2 + i]);
                q[i] = Ref.quickGelu(x[2 + i]);
            }
            float[] a = x.clone(); Activations.silu(a, 2, n);
            Ref.check("silu n=" + n, s, Ref.elemTol(s, 3e-7), a, 2);
            float[] b = x.clone(); Activations.gelu(b, 2, n);
            Ref.check("gelu n=" + n, g, Ref.elemTol(g, 3e-7), b, 2);
            float[] c = x.clone(); Activations.quickGelu(c, 2, n);
            double[] qt = Ref.elemTol(q, 3e-7);
            for (int i = 0; i < n; i++) qt[i] *= 1 + 1.702 * Math.abs(x[2 + i]); // the float product 1.702f * x feeds exp
            Ref.check("quickGelu n=" + n, q, qt, c, 2);
            assertEquals(x[0], a[0]); assertEquals(x[n + 3], a[n + 3]);
            for (int i = 0; i < n; i++) {
                assertEquals(Activations.silu(x[2 + i]), a[2 + i], 0f);
                assertEquals(Activations.gelu(x[2 + i]), b[2 + i], 0f);
                assertEquals(Activations.quickGelu(x[2 + i]), c[2 + i], 0f);
            }
        }
    }

    /**
     * SiLU and the scaled sigmoid (quick GELU), whose exp clamps by integer minima that do not keep NaN, give their scalar
     * twins' bits compiled, NaN of both signs and the infinities included (a NaN x makes the quotient NaN anyway).
     */
    @Test
    void siluAndSigmoidMatchScalarTwinsWhenCompiled() {
        var species = VMath.S;
        float[] edges = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 88f, -88f, 88.72283f, -88.72283f, 100f, -100f, 1e10f, -1e10f,
                Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
                Float.intBitsToFloat(0xffc00000), Float.intBitsToFloat(0x7fa00001), 52f, -52f, 51.9f, -51.9f};
        float[] x = edgesThenNormal(edges, 4096 + 5, new Random(16), 30);
        int n = species.loopBound(x.length);
        float[] s = new float[n], g = new float[n];
        for (int rep = 0; rep < 400; rep++)
            for (int i = 0; i < n; i += species.length()) {
                var v = jdk.incubator.vector.FloatVector.fromArray(species, x, i);
                VMath.silu(v).intoArray(s, i);
                VMath.sigmoidScaled(v, 1.702f).intoArray(g, i);
            }
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(VMath.silu(x[i])), Float.floatToRawIntBits(s[i]), "silu(" + x[i] + ")");
            assertEquals(Float.floatToRawIntBits(VMath.sigmoidScaled(x[i], 1.702f)), Float.floatToRawIntBits(g[i]), "sigmoidScaled(" + x[i] + ")");
        }
    }

    @Test
    void geluSweepIsFloatExact() {
        int n = 40001;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -12f + 24f * i / (n - 1);
        double[] want = new double[n];
        for (int i = 0; i < n; i++) want[i] = Ref.gelu(x[i]);
        float[] g = x.clone();
        Activations.gelu(g, 0, n);
        double[] tol = new double[n];
        for (int i = 0; i < n; i++) tol[i] = Math.ulp((float) want[i]) * 0.5 + 1e-45; // correctly rounded within half an ulp
        Ref.check("gelu sweep", want, tol, g, 0);
    }

    /** n values: each edge and its two float neighbours, then normal values of sigma 3 and wide alternately. */
    private static float[] edgesThenNormal(float[] edges, int n, Random r, double wide) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            if (i < edges.length * 3) {
                float e = edges[i / 3];
                x[i] = i % 3 == 0 ? e : i % 3 == 1 ? Math.nextUp(e) : Math.nextDown(e);
            } else {
                x[i] = (float) (r.nextGaussian() * (i % 2 == 0 ? 3 : wide));
            }
        }
        return x;
    }

    /**
     * The vector GELU gives the scalar twin's bits once C2 has compiled it (many calls), over the edges of Cody's three
     * ranges (|x / sqrt 2| = 0.46875 and 4), the far tail where e^-z^2 flushes to 0, zeros, subnormals, infinities, NaN,
     * and a network's spread (sigma 1: whole vectors with no lane in the far tail, |x / sqrt 2| > 4).
     */
    @Test
    void geluVectorMatchesScalarTwinWhenCompiled() {
        double s2 = Math.sqrt(2);
        float[] edges = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-30f, -1e-30f, (float) (0.46875 * s2), (float) (-0.46875 * s2),
                (float) (4 * s2), (float) (-4 * s2), 37.9f, -37.9f, 38f, -38f, 40f, -40f, 1e10f, -1e10f, Float.MAX_VALUE, -Float.MAX_VALUE,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        float[] wide = edgesThenNormal(edges, 4099, new Random(13), 12);
        // then 4099 values of a network's spread (sigma 1): whole vectors with no lane in the far tail
        float[] x = Arrays.copyOf(wide, 2 * wide.length);
        Random r = new Random(15);
        for (int i = wide.length; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] g = null;
        for (int rep = 0; rep < 400; rep++) {
            g = x.clone();
            Activations.gelu(g, 0, g.length);
        }
        for (int i = 0; i < x.length; i++)
            assertEquals(Float.floatToRawIntBits(Activations.gelu(x[i])), Float.floatToRawIntBits(g[i]), "gelu(" + x[i] + ")");
    }

    /**
     * VMath.exp's compiled vector path gives the scalar twin's bits, and expNonPositive (softmax's) gives exp's bits for
     * every x <= 0, over the clamps (-88, 88.72), 0, subnormals, infinities, NaN and a spread of values.
     */
    @Test
    void expVectorMatchesScalarTwinWhenCompiled() {
        var species = VMath.S;
        float[] edges = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, -88f, 88f, 88.72283f, -87.5f, 1e-30f, -1e-30f, 1f, -1f, 0.5f,
                -0.34657359f, 100f, -100f, -1e10f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        float[] x = edgesThenNormal(edges, 4096 + 3, new Random(14), 40);
        int n = species.loopBound(x.length);
        float[] e = new float[n], en = new float[n];
        for (int rep = 0; rep < 400; rep++)
            for (int i = 0; i < n; i += species.length()) {
                var v = jdk.incubator.vector.FloatVector.fromArray(species, x, i);
                VMath.exp(v).intoArray(e, i);
                VMath.expNonPositive(v.min(0f)).intoArray(en, i);
            }
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(VMath.exp(x[i])), Float.floatToRawIntBits(e[i]), "exp(" + x[i] + ")");
            float neg = Math.min(x[i], 0f);
            assertEquals(Float.floatToRawIntBits(VMath.exp(neg)), Float.floatToRawIntBits(en[i]), "expNonPositive(" + neg + ")");
        }
    }

    /**
     * expNonPositiveNotNaN (attention's clamp as an unsigned minimum of the bits) gives expNonPositive's bits for every x
     * that is not NaN, compiled: the edges above and one bit pattern in 4099 over all 2^32 (both signs, subnormals,
     * infinities, values past both clamps).
     */
    @Test
    void expNotNaNClampGivesTheBlendedClampsBits() {
        var species = VMath.S;
        float[] edges = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, -88f, Math.nextDown(-88f), Math.nextUp(-88f), -87.5f, -1e-30f,
                -1f, -0.34657359f, -100f, -1e10f, -Float.MAX_VALUE, 1f, 88f, 100f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
        int count = (int) ((1L << 32) / 4099) + 1;
        float[] x = new float[edges.length + count];
        System.arraycopy(edges, 0, x, 0, edges.length);
        int m = edges.length;
        for (long b = 0; b < (1L << 32); b += 4099) {
            float f = Float.intBitsToFloat((int) b);
            if (!Float.isNaN(f)) x[m++] = f;
        }
        int n = species.loopBound(m);
        float[] blended = new float[n], unsigned = new float[n];
        for (int rep = 0; rep < 40; rep++)
            for (int i = 0; i < n; i += species.length()) {
                var v = jdk.incubator.vector.FloatVector.fromArray(species, x, i);
                VMath.expNonPositive(v).intoArray(blended, i);
                VMath.expNonPositiveNotNaN(v).intoArray(unsigned, i);
            }
        for (int i = 0; i < n; i++)
            if (Float.floatToRawIntBits(blended[i]) != Float.floatToRawIntBits(unsigned[i]))
                assertEquals(Float.floatToRawIntBits(blended[i]), Float.floatToRawIntBits(unsigned[i]), "expNonPositiveNotNaN(" + x[i] + ")");
    }

    @Test
    void geglu() {
        Random r = new Random(11);
        for (int[] s : new int[][] {{1, 1}, {3, 17}, {7, 64}, {77, 40}, {5, 1280}}) {
            int rows = s[0], d = s[1];
            float[] x = Ref.randn(r, rows * 2 * d, 2);
            double[] want = new double[rows * d];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < d; j++) want[i * d + j] = (double) x[i * 2 * d + j] * Ref.gelu(x[i * 2 * d + d + j]);
            float[] out = new float[rows * d];
            Activations.geglu(x, rows, d, out);
            Ref.check("geglu " + rows + "x" + d, want, Ref.elemTol(want, 4e-7), out, 0);
        }
    }

    @Test
    void arithmetic() {
        Random r = new Random(12);
        for (int n : SIZES) {
            float[] a = Ref.rand(r, n + 3), b = Ref.rand(r, n + 5);
            float[] out = new float[n + 2];
            Elementwise.add(a, 3, b, 1, out, 2, n);
            for (int i = 0; i < n; i++) assertEquals(a[3 + i] + b[1 + i], out[2 + i]);
            assertEquals(0f, out[0]);
            Elementwise.mul(a, 1, b, 4, out, 1, n);
            for (int i = 0; i < n; i++) assertEquals(a[1 + i] * b[4 + i], out[1 + i]);
            float[] c = a.clone();
            Elementwise.addInPlace(c, b, n);
            for (int i = 0; i < n; i++) assertEquals(a[i] + b[i], c[i]);
            assertEquals(a[n], c[n]);
            float[] d = a.clone();
            Elementwise.scale(d, 1, n, 0.3f);
            for (int i = 0; i < n; i++) assertEquals(a[1 + i] * 0.3f, d[1 + i]);
            assertEquals(a[0], d[0]);
        }
        // the sizes run on all threads too (chunks of GRAIN, a last short one)
        int big = Elementwise.PARALLEL_FROM + 3 * Elementwise.GRAIN / 2 + 7;
        float[] a = Ref.rand(r, big + 3), b = Ref.rand(r, big + 1), out = new float[big + 3];
        Elementwise.add(a, 3, b, 1, out, 2, big);
        for (int i = 0; i < big; i++) assertEquals(a[3 + i] + b[1 + i], out[2 + i]);
        assertEquals(0f, out[0]);
        assertEquals(0f, out[big + 2]);
        for (int hw : new int[] {37, Elementwise.GRAIN / 3 + 5, Elementwise.PARALLEL_FROM + 11}) {
            int bn = 2, c = 3;
            float[] x = Ref.rand(r, bn * c * hw), v = Ref.rand(r, bn * c), x0 = x.clone();
            Elementwise.addPerChannel(x, bn, c, hw, v);
            for (int i = 0; i < x.length; i++) assertEquals(x0[i] + v[i / hw], x[i], "hw " + hw);
        }
    }

    @Test
    void upsampleNearest() {
        Random r = new Random(13);
        int[][] shapes = {{1, 1, 1, 1, 2, 2}, {2, 3, 5, 7, 10, 14}, {1, 2, 5, 5, 9, 9}, {1, 1, 4, 6, 3, 13}, {1, 4, 8, 8, 16, 16}, {1, 1, 3, 3, 7, 1}};
        for (int[] s : shapes) {
            float[] x = Ref.rand(r, s[0] * s[1] * s[2] * s[3]);
            double[] want = Ref.upsampleNearest(x, s[0], s[1], s[2], s[3], s[4], s[5]);
            float[] y = new float[want.length];
            Upsample.nearest(x, s[0], s[1], s[2], s[3], s[4], s[5], y);
            Ref.check("nearest " + java.util.Arrays.toString(s), want, new double[want.length], y, 0);
            if (s[4] == 2 * s[2] && s[5] == 2 * s[3]) {
                float[] y2 = new float[want.length];
                Upsample.nearest2x(x, s[0], s[1], s[2], s[3], y2);
                Ref.check("nearest2x", want, new double[want.length], y2, 0);
            }
        }
    }
}

package dev.jdiffusion.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Softmax and multi-head attention against double references. Attention tolerance:
 * 1e-6 * sqrt(Lk + D) * sum_j p_j |v_j| + 1e-7 (scores and output are both dot products).
 */
class AttentionTest {

    @Test
    void softmax() {
        Random r = new Random(8);
        for (int n : new int[] {1, 2, 7, 16, 17, 77, 300, 4096}) {
            float[] x = Ref.randn(r, 3 * n + 2, 4);
            float[] x0 = x.clone();
            Softmax.rows(x, 1, 3, n);
            for (int row = 0; row < 3; row++) {
                double[] s = Ref.toDouble(x0, 1 + row * n, n);
                double[] want = Ref.softmaxRow(s, n);
                Ref.check("softmax n=" + n, want, Ref.elemTol(want, 4e-6), x, 1 + row * n);
            }
            assertEquals(x0[0], x[0]);
            assertEquals(x0[x.length - 1], x[x.length - 1]);
        }
        float[] m = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        Softmax.row(m, 0, 2);
        assertEquals(0f, m[0]);
    }

    private static void run(Random r, int batch, int heads, int lq, int lk, int d, boolean causal) {
        int dm = heads * d;
        float[] q = Ref.randn(r, batch * lq * dm, 1), k = Ref.randn(r, batch * lk * dm, 1), v = Ref.randn(r, batch * lk * dm, 1);
        float scale = (float) (1 / Math.sqrt(d));
        double[][] want = Ref.attention(q, k, v, batch, heads, lq, lk, d, causal, scale);
        float[] out = new float[q.length];
        Attention.forward(q, k, v, batch, heads, lq, lk, d, causal, scale, out);
        double[] tol = new double[out.length];
        for (int i = 0; i < tol.length; i++) tol[i] = 1e-6 * Math.sqrt(lk + d) * want[1][i] + 1e-7;
        Ref.check("attention b=" + batch + " h=" + heads + " lq=" + lq + " lk=" + lk + " d=" + d + " causal=" + causal, want[0], tol, out, 0);
    }

    /**
     * The softmax sums taken by a ones row of Vᵀ (in the product) and in the exponential pass are the same operations in
     * the same order: identical bits, at head sizes that are and are not multiples of the micro-kernel's rows, causal or
     * not, with more keys than one key tile.
     */
    @Test
    void sumsByOnesRowAndInExpPassAreTheSameBits() {
        Random r = new Random(10);
        int mr = GemmKernel.MR;
        for (int d : new int[] {mr, 2 * mr, 40, 41, 80}) {
            for (boolean causal : new boolean[] {false, true}) {
                int heads = 2, lq = 70, lk = 2 * KernelConfig.ATTENTION_KEYS + 5, dm = heads * d;
                float[] q = Ref.randn(r, lq * dm, 1), k = Ref.randn(r, lk * dm, 1), v = Ref.randn(r, lk * dm, 1);
                float[] a = new float[q.length], b = new float[q.length];
                Attention.forward(q, k, v, 1, heads, lq, lk, d, causal, 0.3f, a, true);
                Attention.forward(q, k, v, 1, heads, lq, lk, d, causal, 0.3f, b, false);
                for (int i = 0; i < a.length; i++)
                    assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "d=" + d + " causal=" + causal + " at " + i);
            }
        }
    }

    /**
     * Attention's running maxima are a compare and a blend, which skip a NaN score where max would keep it; a NaN still
     * makes every output it reaches NaN (its exponential is NaN): one NaN key, all queries. Softmax.row keeps max: a NaN
     * among -Inf scores gives NaN, not the zeros of an all-masked row.
     */
    @Test
    void aNanScoreMakesItsRowsNan() {
        Random r = new Random(12);
        int heads = 1, lq = 37, lk = KernelConfig.ATTENTION_KEYS + 9, d = 40;
        float[] q = Ref.randn(r, lq * d, 1), k = Ref.randn(r, lk * d, 1), v = Ref.randn(r, lk * d, 1), out = new float[q.length];
        k[(lk - 3) * d + 5] = Float.NaN;
        for (boolean ones : new boolean[] {false, true}) {
            Attention.forward(q, k, v, 1, heads, lq, lk, d, false, 0.2f, out, ones);
            for (int i = 0; i < out.length; i++) assertTrue(Float.isNaN(out[i]), "attention output " + i + " = " + out[i]);
        }
        float[] row = Ref.randn(r, 40, 1);
        row[17] = Float.NaN;
        Softmax.row(row, 0, row.length);
        for (float x : row) assertTrue(Float.isNaN(x), "softmax " + x);
        float[] masked = new float[40];
        java.util.Arrays.fill(masked, Float.NEGATIVE_INFINITY);
        masked[3] = Float.NaN;
        Softmax.row(masked, 0, masked.length);
        for (float x : masked) assertTrue(Float.isNaN(x), "softmax of -Inf and one NaN: " + x);
    }

    /**
     * A NaN that arithmetic makes (0 x Inf: on x86 its sign bit is set, which the cheaper clamp would read as a score
     * below -88) and a score that overflows to +Inf (Inf - Inf in the softmax) still make their rows NaN: an infinite
     * input, or inputs whose products could overflow, take the clamp that keeps NaN ({@link Attention#scoresFinite}).
     */
    @Test
    void nanFromArithmeticAndOverflowMakeRowsNan() {
        Random r = new Random(13);
        int lq = 30, lk = KernelConfig.ATTENTION_KEYS + 5, d = 40;
        float[] q = Ref.randn(r, lq * d, 1), k = Ref.randn(r, lk * d, 1), v = Ref.randn(r, lk * d, 1), out = new float[q.length];
        for (int i = 0; i < lq; i++) q[i * d + 7] = 0f;
        k[(lk - 2) * d + 7] = Float.POSITIVE_INFINITY;   // every score with key lk - 2 is 0 x Inf + ... = NaN
        float[] big = q.clone();
        for (int i = 0; i < big.length; i++) big[i] = 3e19f;   // q.k = 40 x 3e19 x k: overflows for some keys
        float[] kBig = k.clone();
        kBig[(lk - 2) * d + 7] = 1f;
        for (int i = 0; i < d; i++) kBig[3 * d + i] = 3e19f;
        for (boolean ones : new boolean[] {false, true}) {
            Attention.forward(q, k, v, 1, 1, lq, lk, d, false, 0.2f, out, ones);
            for (int i = 0; i < out.length; i++) assertTrue(Float.isNaN(out[i]), "0 x Inf: attention output " + i + " = " + out[i]);
            Attention.forward(big, kBig, v, 1, 1, lq, lk, d, false, 1f, out, ones);
            for (int i = 0; i < out.length; i++) assertTrue(Float.isNaN(out[i]), "overflow: attention output " + i + " = " + out[i]);
        }
        assertTrue(Attention.scoresFinite(40, 1e6f, 1e6f));
        assertFalse(Attention.scoresFinite(40, 1e20f, 1e20f));
        assertFalse(Attention.scoresFinite(40, Float.NaN, 1f));
        assertFalse(Attention.scoresFinite(40, 1f, Float.POSITIVE_INFINITY));
    }

    /**
     * Packed K and Vᵀ live in buffers the calling thread reuses: a call after others of other shapes, whose inputs were
     * NaN and Inf (left in the buffers, padding included), gives the bits it gave before them.
     */
    @Test
    void reusedPackingBuffersGiveTheSameBits() {
        Random r = new Random(15);
        int heads = 3, lq = 50, lk = KernelConfig.ATTENTION_KEYS + 7, d = 41, dm = heads * d;
        float[] q = Ref.randn(r, lq * dm, 1), k = Ref.randn(r, lk * dm, 1), v = Ref.randn(r, lk * dm, 1);
        float[] first = new float[q.length], again = new float[q.length];
        Attention.forward(q, k, v, 1, heads, lq, lk, d, false, 0.3f, first);
        for (int[] s : new int[][] {{2, 2 * KernelConfig.ATTENTION_KEYS + 1, 80}, {1, lk + 2, 40}, {4, 5, 7}}) {
            int n = s[1] * s[0] * s[2];
            float[] junk = new float[n], out = new float[n];
            for (int i = 0; i < n; i++) junk[i] = i % 3 == 0 ? Float.NaN : i % 3 == 1 ? Float.NEGATIVE_INFINITY : 1e30f;
            Attention.forward(junk, junk, junk, 1, s[0], s[1], s[1], s[2], false, 1f, out);
        }
        Attention.forward(q, k, v, 1, heads, lq, lk, d, false, 0.3f, again);
        for (int i = 0; i < first.length; i++)
            assertEquals(Float.floatToRawIntBits(first[i]), Float.floatToRawIntBits(again[i]), "at " + i);
    }

    @Test
    void randomShapes() {
        Random r = new Random(9);
        run(r, 1, 1, 1, 1, 1, false);
        run(r, 1, 2, 5, 5, 8, true);
        run(r, 2, 3, 17, 77, 40, false);
        run(r, 1, 8, 64, 77, 40, false);
        run(r, 1, 2, 300, 300, 40, false);
        run(r, 2, 2, 77, 77, 64, true);
        run(r, 1, 1, 9, 20, 33, true);
        run(r, 1, 3, 150, 129, 80, false);
        run(r, 1, 1, 40, 13, 160, false);
        for (int it = 0; it < 10; it++)
            run(r, 1 + r.nextInt(2), 1 + r.nextInt(3), 1 + r.nextInt(70), 1 + r.nextInt(140), 1 + r.nextInt(70), r.nextBoolean());
    }
}

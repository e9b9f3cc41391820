package dev.jdiffusion.kernels;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Winograd F(2x2, 3x3) against the double-precision direct convolution, next to the direct (im2col) float path.
 * Tolerances: per element {@link #TOL_VS_DIRECT} times the bound of {@link Ref#dotTol} (1e-6 sqrt(K+1) times the
 * sum of |products|), and a max abs error of {@link #TOL_VS_MAX} times max |y|. F(2x2, 3x3) measures as exact as
 * the direct float sum (errors of 2e-7 to 5e-7 of max |y| for both).
 */
@Isolated("changes the process-wide filter-cache budget")
class WinogradTest {
    /** A budget for the tests that need filters cached (the default caches none). */
    static final long BUDGET = 256L << 20;
    /** Allowed error as a fraction of the direct conv's float tolerance (measured: at most 0.005). */
    static final double TOL_VS_DIRECT = 0.05;
    /** Allowed max abs error relative to max |y| (measured: at most 5.3e-7, the direct float path 4.6e-7). */
    static final double TOL_VS_MAX = 2e-6;

    /** The im2col GEMM path of Conv2d (what conv3x3 computed before Winograd). */
    private static float[] direct(float[] x, int n, int cin, int h, int w, Matrix m, float[] bias) {
        int cout = m.rows();
        float[] y = new float[n * cout * h * w];
        for (int b = 0; b < n; b++)
            GemmKernel.gemm(cout, h * w, cin * 9, 1f, GemmKernel.packA(m), Conv2d.im2colPacker(x, b * cin * h * w, h, w, 3, 3, 1, 1, 1, w),
                    0f, y, b * cout * h * w, h * w, bias, null);
        return y;
    }

    private static double[] errors(double[] want, double[] mag, int k, float[] got) {
        double[] tol = Ref.dotTol(mag, k);
        double maxRatio = 0, maxAbs = 0, maxY = 0;
        for (int i = 0; i < want.length; i++) {
            double e = Math.abs(got[i] - want[i]);
            maxRatio = Math.max(maxRatio, e / tol[i]);
            maxAbs = Math.max(maxAbs, e);
            maxY = Math.max(maxY, Math.abs(want[i]));
        }
        return new double[] {maxRatio, maxAbs, maxAbs / maxY};
    }

    private static void run(Random r, String kind, int n, int cin, int cout, int h, int w, boolean bias, double xScale) {
        float[] wt = new float[cout * cin * 9];
        Matrix m = GemmTest.matrix(kind, r, cout, cin * 9, wt);
        float s = (float) (1 / Math.sqrt(cin * 9.0));   // weights at a trained conv's scale
        for (int i = 0; i < wt.length; i++) wt[i] *= s;
        m = Matrix.of(wt.clone(), cout, cin * 9);
        float[] x = Ref.randn(r, n * cin * h * w, xScale);
        float[] b = bias ? Ref.rand(r, cout) : null;
        double[][] want = Ref.conv2d(x, n, cin, h, w, wt, cout, 3, 3, b, 1, 1, 1, 1, 1);
        float[] got = new float[n * cout * h * w];
        Winograd.forward(x, n, cin, h, w, Winograd.transformFilters(m, cout, cin), cout, b, got);
        double[] ew = errors(want[0], want[1], cin * 9, got), ed = errors(want[0], want[1], cin * 9, direct(x, n, cin, h, w, m, b));
        String label = String.format(Locale.ROOT, "winograd n=%d cin=%d cout=%d %dx%d", n, cin, cout, h, w);
        System.out.printf(Locale.ROOT, "%s: max err/tol winograd %.3f direct %.3f; max abs err winograd %.3g direct %.3g; rel to max|y| winograd %.3g direct %.3g%n",
                label, ew[0], ed[0], ew[1], ed[1], ew[2], ed[2]);
        assertTrue(ew[0] <= TOL_VS_DIRECT, label + ": error " + ew[0] + " x the direct tolerance");
        assertTrue(ew[2] <= TOL_VS_MAX, label + ": error " + ew[2] + " of max |y|");
    }

    @Test
    void matchesDirectConv() {
        Random r = new Random(21);
        run(r, "heap", 1, 64, 64, 16, 16, true, 1);
        run(r, "heap", 2, 70, 65, 17, 23, true, 3);      // odd sizes: partial tiles at the right and bottom
        run(r, "heap", 1, 96, 80, 9, 30, false, 1);
        run(r, "heap", 1, 320, 64, 24, 24, true, 10);    // K = 320 x 16 products per tile, SD magnitudes
        run(r, "heap", 1, 64, 64, 1, 40, true, 1);        // one row
        run(r, "heap", 1, 64, 64, 40, 1, true, 1);        // one column
    }

    /**
     * The vectorized filter transform gives the bits of the scalar one (transformFilter, the order the class comment
     * documents) for every pair, with channel counts that leave a scalar tail, for each weight dtype, and with
     * magnitudes far apart within one 3x3 (where double rounding would show).
     */
    @Test
    void vectorFilterTransformIsTheScalarOneBitForBit() {
        Random r = new Random(26);
        for (String kind : new String[] {"F32", "F16", "BF16", "heap"})
            for (int cin : new int[] {1, 7, 64, 70, 133}) {
                int cout = 3;
                float[] wt = new float[cout * cin * 9];
                Matrix m = GemmTest.matrix(kind, r, cout, cin * 9, wt);
                if (kind.equals("heap")) {   // spread exponents: 3x3s mixing 1e-30 and 1e30 scales
                    for (int i = 0; i < wt.length; i++) wt[i] *= (float) Math.pow(10, r.nextInt(61) - 30);
                    m = Matrix.of(wt.clone(), cout, cin * 9);
                }
                float[] got = Winograd.transformFilters(m, cout, cin), want = new float[got.length];
                double[] t = new double[12];
                for (int co = 0; co < cout; co++)
                    for (int ci = 0; ci < cin; ci++)
                        Winograd.transformFilter(wt, (co * cin + ci) * 9, t, want, co * cin + ci, cout * cin);
                for (int i = 0; i < want.length; i++)
                    assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), kind + " cin=" + cin + " element " + i);
            }
    }

    @Test
    void chunksAndCacheGiveTheSameResult() {
        Random r = new Random(22);
        int cin = 128, cout = 96, h = 70, w = 90;
        float[] wt = Ref.rand(r, cout * cin * 9);
        Matrix m = Matrix.of(wt, cout, cin * 9);
        float[] x = Ref.rand(r, 2 * cin * h * w), b = Ref.rand(r, cout);
        float[] y1 = new float[2 * cout * h * w], y2 = new float[y1.length], y3 = new float[y1.length];
        long old = Winograd.setCacheBudget(BUDGET);
        try {
            Conv2d.forward(x, 2, cin, h, w, m, 3, 3, b, 1, 1, y1);   // builds the cache
        } finally {
            Winograd.setCacheBudget(old);
        }
        assertTrue(m.winograd != null, "filters cached");
        Conv2d.forward(x, 2, cin, h, w, m, 3, 3, b, 1, 1, y2);   // uses it

        assertArrayEquals(y1, y2);
        // chunks of 4 tile rows (the last one shorter): same result, bit for bit
        Winograd.forward(x, 2, cin, h, w, m.winograd, cout, b, y3, 16 * cin * 45 * 4);
        assertArrayEquals(y1, y3);
        double[][] want = Ref.conv2d(x, 2, cin, h, w, wt, cout, 3, 3, b, 1, 1, 1, 1, 1);
        assertTrue(errors(want[0], want[1], cin * 9, y1)[0] <= TOL_VS_DIRECT);
    }

    /**
     * Filters transformed per call share one buffer per thread: convs of different sizes one after the other (the
     * buffer grows, then is reused by a smaller one) each give what their own freshly transformed filters give.
     */
    @Test
    void perCallFiltersShareOneBufferSafely() {
        Random r = new Random(23);
        int h = 24, w = 20;
        long old = Winograd.setCacheBudget(0);
        try {
            int[][] shapes = {{64, 64}, {96, 80}, {64, 72}, {96, 80}};
            for (int[] s : shapes) {
                int cin = s[0], cout = s[1];
                Matrix m = Matrix.of(Ref.rand(r, cout * cin * 9), cout, cin * 9);
                float[] x = Ref.rand(r, cin * h * w), b = Ref.rand(r, cout), got = new float[cout * h * w], want = new float[got.length];
                Conv2d.forward(x, 1, cin, h, w, m, 3, 3, b, 1, 1, got);
                assertNull(m.winograd, "not cached");
                Winograd.forward(x, 1, cin, h, w, Winograd.transformFilters(m, cout, cin), cout, b, want);
                assertArrayEquals(want, got, cin + " -> " + cout);
            }
        } finally {
            Winograd.setCacheBudget(old);
        }
    }

    @Test
    void directConvBelowTheThresholds() {
        Matrix m = Matrix.of(new float[63 * 64 * 9], 63, 64 * 9);
        assertNull(Winograd.filtersFor(m, 64, 64, 64), "cout < 64");
        Matrix m2 = Matrix.of(new float[64 * 64 * 9], 64, 64 * 9);
        assertNull(Winograd.filtersFor(m2, 64, 8, 8), "16 tiles");
        assertNull(Winograd.filtersFor(m2, 64, 15, 14), "56 tiles");
        assertNull(Winograd.filtersFor(m2, 64, 16, 16), "64 tiles (1280 channels at 16x16 in SD: direct is faster)");
        assertTrue(Winograd.MIN_TILES > 64 && Winograd.MIN_TILES <= 144, "SD 2.x's 24x24 layers (144 tiles) run Winograd");
        assertNotNull(Winograd.filtersFor(m2, 64, 24, 24), "144 tiles");
    }

    /** The algorithm (and so the bits) depends on the layer's shape only: a zero cache budget changes nothing. */
    @Test
    void theCacheBudgetNeverChangesTheNumbers() {
        Random r = new Random(23);
        int cin = 64, cout = 64, h = 20, w = 24;
        float[] wt = Ref.rand(r, cout * cin * 9), x = Ref.rand(r, cin * h * w), b = Ref.rand(r, cout);
        float[] cachedY = new float[cout * h * w], uncachedY = new float[cachedY.length];
        Matrix cachedW = Matrix.of(wt.clone(), cout, cin * 9), uncachedW = Matrix.of(wt.clone(), cout, cin * 9);
        long old = Winograd.setCacheBudget(BUDGET);
        try {
            Conv2d.forward(x, 1, cin, h, w, cachedW, 3, 3, b, 1, 1, cachedY);
            assertNotNull(cachedW.winograd, "filters cached within a budget");
            Winograd.setCacheBudget(0);
            assertNotNull(Winograd.filtersFor(uncachedW, cin, h, w), "Winograd runs whatever the budget");
            Conv2d.forward(x, 1, cin, h, w, uncachedW, 3, 3, b, 1, 1, uncachedY);
            assertNull(uncachedW.winograd, "nothing cached over the budget");
        } finally {
            Winograd.setCacheBudget(old);
        }
        assertArrayEquals(cachedY, uncachedY, "same bits with and without cached filters");
    }

    /** Closing a mapped model gives its cached filters' bytes back to the budget. */
    @Test
    void closingTheMappingGivesTheBudgetBack(@TempDir Path dir) {
        Random r = new Random(24);
        int cin = 64, cout = 72, h = 20, w = 20;   // 100 tiles: Winograd
        Path f = convFile(dir, r, cout, cin);
        float[] x = Ref.rand(r, cin * h * w), y = new float[cout * h * w];
        long bytes = 64L * cout * cin, during;
        Matrix m;
        long old = Winograd.setCacheBudget(BUDGET);
        try (SafetensorsFile file = SafetensorsFile.open(f)) {
            m = Matrix.of(file.find("w"));
            Conv2d.forward(x, 1, cin, h, w, m, 3, 3, null, 1, 1, y);
            assertNotNull(m.winograd, "filters cached");
            during = Winograd.cachedBytes();
            assertTrue(during >= bytes, "the filters' bytes count in the budget");
        } finally {
            Winograd.setCacheBudget(old);
        }
        // other tests' heap weights may be collected meanwhile: the cache can only shrink by more
        assertTrue(during - Winograd.cachedBytes() >= bytes, "given back when the mapping closes");
        assertNull(m.winograd, "the closed weight's filters are dropped");
    }

    /**
     * The budget is its own bounded setting: a fixed default (at most a quarter of the heap, so small heaps keep room
     * for activations), the property in MiB, and a malformed property is a one-line error naming it (at model load).
     */
    @Test
    void theBudgetIsAFixedDefaultOrTheProperty() {
        long def = Winograd.DEFAULT_BUDGET_MB << 20;
        assertEquals(def, Winograd.cacheBudget(null, 64L << 30), "a large heap does not grow the cache");
        assertEquals(def, Winograd.cacheBudget(" ", 64L << 30));
        assertEquals(Math.min(def, (256L << 20) / 4), Winograd.cacheBudget(null, 256L << 20), "a small heap: at most a quarter of it");
        assertEquals(100L << 20, Winograd.cacheBudget("100", 256L << 20), "the property wins");
        assertEquals(0, Winograd.cacheBudget("0", 64L << 30));
        assertNull(Winograd.budgetError(null));
        assertNull(Winograd.budgetError("2048"));
        for (String bad : new String[]{"lots", "-1", "1.5", "99999999999999"}) {
            String e = Winograd.budgetError(bad);
            assertNotNull(e, bad);
            assertTrue(e.contains("-Djdiffusion.winogradCacheMB") && e.contains(bad) && !e.contains("\n"), e);
            assertEquals(def, Winograd.cacheBudget(bad, 64L << 30), "a bad value never reaches the budget");
        }
    }

    /** A mapping's cap (a low-memory model's files) keeps its weights' filters out of the cache; the bits stay. */
    @Test
    void aCappedMappingCachesNothingAndComputesTheSame(@TempDir Path dir) {
        Random r = new Random(25);
        int cin = 64, cout = 64, h = 20, w = 20;
        Path f = convFile(dir, r, cout, cin);
        float[] x = Ref.rand(r, cin * h * w), capped = new float[cout * h * w], free = new float[capped.length];
        long old = Winograd.setCacheBudget(BUDGET);
        try (SafetensorsFile a = SafetensorsFile.open(f); SafetensorsFile b = SafetensorsFile.open(f)) {
            Matrix ma = Matrix.of(a.find("w")), mb = Matrix.of(b.find("w"));
            Winograd.capMapping(a.find("w").segment().scope(), 0);
            Conv2d.forward(x, 1, cin, h, w, ma, 3, 3, null, 1, 1, capped);
            Conv2d.forward(x, 1, cin, h, w, mb, 3, 3, null, 1, 1, free);
            assertNull(ma.winograd, "over its mapping's cap: transformed per call");
            assertNotNull(mb.winograd, "another mapping of the same file: cached within the budget");
        } finally {
            Winograd.setCacheBudget(old);
        }
        assertArrayEquals(free, capped, "same bits with and without the cache");
    }

    /** A safetensors file holding one random fp16 3x3 conv weight "w" [cout, cin, 3, 3]. */
    private static Path convFile(Path dir, Random r, int cout, int cin) {
        Path f = dir.resolve("conv.safetensors");
        SafetensorsWriter.write(f, Map.of("w", new Tensor(Ref.rand(r, cout * cin * 9), cout, cin, 3, 3)), DType.F16, Map.of());
        return f;
    }
}

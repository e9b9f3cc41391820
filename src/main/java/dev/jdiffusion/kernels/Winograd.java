package dev.jdiffusion.kernels;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1 (Lavin and Gray, 2015): each 2x2 block
 * of output pixels comes from a 4x4 input tile as Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A, so the channel sums become
 * 16 independent GEMMs M_ξ[cout x tiles] = U_ξ[cout x cin] · V_ξ[cin x tiles] of 16/36 the multiplications
 * of the direct convolution. The transforms use only additions (and halvings for the filter), so the result
 * stays within a few float ulps of the direct sum.
 *
 * <p>The filter transforms U (16 x cout x cin floats: 16/9 of the weight's elements, 32/9 of its F16 bytes) are
 * computed in double and rounded once. Whether a conv runs Winograd depends on its shape only (channels and
 * tiles), never on memory or history, so the output bits do not either. For images of fewer than
 * {@link #PER_CALL_TILES} tiles the transformed filters are kept with the weight {@link Matrix}, up to a
 * process-wide budget ({@code -Djdiffusion.winogradCacheMB}, default {@value #DEFAULT_BUDGET_MB} MiB but at most a
 * quarter of the maximum heap) and, for the weights of one mapping, up to that mapping's cap ({@link #capMapping}:
 * a low-memory model keeps less); past them they are transformed at each call (slower, same numbers). The bytes of
 * a weight whose mapping was closed (its model closed) or that was collected are given back to the budget. Larger
 * images always transform per call.
 * {@code -Djdiffusion.winograd=false} turns Winograd off. Tile rows are processed in chunks so the V and M buffers stay within a few MB.
 * Every output element is computed by one task in a fixed order, so results do not depend on the thread count.
 */
final class Winograd {
    private Winograd() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Lane indices for two-vector selectFrom: even / odd lanes of a pair (deinterleave), and the interleave of a pair. */
    private static final FloatVector EVEN = indices(i -> 2 * i), ODD = indices(i -> 2 * i + 1),
            LO = indices(i -> (i & 1) * L + i / 2), HI = indices(i -> (i & 1) * L + (L + i) / 2);

    private static FloatVector indices(java.util.function.IntUnaryOperator f) {
        float[] a = new float[L];
        for (int i = 0; i < L; i++) a[i] = f.applyAsInt(i);
        return FloatVector.fromArray(S, a, 0);
    }

    /** Smallest input and output channel counts worth the transforms. */
    static final int MIN_CHANNELS = 64;
    /**
     * Smallest number of 2x2 output tiles worth it: the filter transform costs about as much as the GEMMs of 50-100
     * tiles. Measured (GemmDuel conv3x3, F16 weights, 2 threads, Xeon with AVX-512), Winograd against direct GFLOP/s:
     * 1280 channels at 16x16 (64 tiles) 153 vs 211 (512-bit), 120 vs 142 (UseAVX=2); at 24x24 (144 tiles) 252 vs 225
     * and 206 vs 160; break-even near 85-115 tiles.
     */
    static final int MIN_TILES = 100;
    /**
     * From this many tiles on, transforming the filters at each call costs little next to the GEMMs (a few %),
     * so such layers (the VAE's large ones) run Winograd without caching; smaller ones need the cache.
     */
    static final int PER_CALL_TILES = 2048;
    /**
     * Floats aimed at in each of the per-chunk V and M buffers (about 4 MB: they stay in the last-level cache
     * between the transforms and the GEMMs), but at least {@link #MIN_CHUNK_TILES} tiles per chunk so the GEMMs
     * stay wide (measured on Zen 5: 128-256 channels fastest at 512 tiles, 512 channels at 512 tiles).
     */
    static final int CHUNK_FLOATS = 1 << 20;
    private static final int MIN_CHUNK_TILES = 512;

    static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("jdiffusion.winograd", "true"));
    /** System property: the cache budget in MiB (a whole number, 0 or more; 0 caches nothing). */
    static final String BUDGET_PROPERTY = "jdiffusion.winogradCacheMB";
    /**
     * The budget in MiB when the property is unset (at most a quarter of the heap): none. Measured with
     * {@code bench --synthetic sd15} at 512x512, 5 steps (README, "Speed and memory"): caching all of SD 1.5's
     * filters (1.9 GB) saves about 0.5 s of a 5.9 s U-Net step but makes the first step 4-5 s slower and G1 grows the
     * heap by more than the cache (peak RSS 4.8 GB instead of 2.2 GB; 512 MiB: 3.5 GB for ~0.1 s a step), so it
     * pays only over many steps. Long runs and servers opt in with {@code -Djdiffusion.winogradCacheMB=2048}.
     */
    static final long DEFAULT_BUDGET_MB = 0;

    /** Guards {@link #budget}, {@link #cached}, {@link #ENTRIES} and {@link #CAPS}. */
    private static final Object LOCK = new Object();
    /** Why the property's value was refused, or null; {@link #checkBudgetProperty} reports it (at model load). */
    private static final String BUDGET_ERROR = budgetError(System.getProperty(BUDGET_PROPERTY));
    private static long budget = cacheBudget(System.getProperty(BUDGET_PROPERTY), Runtime.getRuntime().maxMemory());
    private static long cached;
    /** The weights holding cached filters, with their bytes and the scope of their mapping (null: heap). */
    private static final List<Entry> ENTRIES = new ArrayList<>();
    /** Caps on the bytes the weights of one mapping may cache, by the mapping's scope (closed ones are swept). */
    private static final java.util.Map<MemorySegment.Scope, Long> CAPS = new java.util.HashMap<>();
    private static final ThreadLocal<float[][]> BUFS = ThreadLocal.withInitial(() -> new float[2][]);

    /** The budget in bytes for a property value (null or blank: the default, at most maxHeap / 4; malformed: the same). */
    static long cacheBudget(String property, long maxHeap) {
        if (property != null && !property.isBlank() && budgetError(property) == null) return Long.parseLong(property.trim()) << 20;
        return Math.min(DEFAULT_BUDGET_MB << 20, maxHeap / 4);
    }

    /** The one-line error for a malformed property value, or null when it is unset or valid. */
    static String budgetError(String property) {
        if (property == null || property.isBlank()) return null;
        try {
            long mb = Long.parseLong(property.trim());
            if (mb >= 0 && mb <= (1L << 30)) return null;
        } catch (NumberFormatException e) {
            // reported below
        }
        return "-D" + BUDGET_PROPERTY + " must be a whole number of MiB from 0 (no filter cache) to " + (1L << 30)
                + ", got \"" + property + "\"";
    }

    /** Throws an IllegalArgumentException naming the property when its value is malformed (called at model load). */
    static void checkBudgetProperty() {
        if (BUDGET_ERROR != null) throw new IllegalArgumentException(BUDGET_ERROR);
    }

    /**
     * Caps the bytes of filters that weights mapped in {@code mapping} may cache, within the process-wide budget,
     * until the mapping closes. A cap lowered below what is cached already takes effect for later weights only.
     */
    static void capMapping(MemorySegment.Scope mapping, long bytes) {
        synchronized (LOCK) {
            sweep();
            CAPS.put(mapping, Math.max(0, bytes));
        }
    }


    private record Entry(WeakReference<Matrix> weight, MemorySegment.Scope scope, long bytes) {
        boolean dead() {
            return weight.refersTo(null) || scope != null && !scope.isAlive();
        }
    }

    /** Bytes of transformed filters cached now (process-wide), after giving back those of closed models. */
    static long cachedBytes() {
        synchronized (LOCK) {
            sweep();
            return cached;
        }
    }

    /** Sets the cache budget in bytes (tests); returns the previous one. Cached filters stay. */
    static long setCacheBudget(long bytes) {
        synchronized (LOCK) {
            long old = budget;
            budget = bytes;
            return old;
        }
    }

    /** Drops the entries of weights that were collected or whose mapping was closed, giving back their bytes. */
    private static void sweep() {
        for (Iterator<Entry> it = ENTRIES.iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (!e.dead()) continue;
            Matrix m = e.weight.get();
            if (m != null) {
                m.winograd = null;
                m.winogradLowRank = null;
            }
            cached -= e.bytes;
            it.remove();
        }
        CAPS.keySet().removeIf(s -> !s.isAlive());
    }

    /** Reserves bytes of the budget for weight's filters; false when they do not fit. */
    private static boolean reserve(Matrix weight, long bytes, boolean small) {
        synchronized (LOCK) {
            sweep();
            long limit = small ? budget / 2 : budget;
            if (cached + bytes > limit) return false;
            MemorySegment s = weight.view() == null ? null : weight.view().segment();
            MemorySegment.Scope scope = s == null ? null : s.scope();
            Long cap = scope == null ? null : CAPS.get(scope);
            if (cap != null) {
                long mine = 0;
                for (Entry e : ENTRIES) if (scope.equals(e.scope)) mine += e.bytes;
                if (mine + bytes > cap) return false;
            }
            cached += bytes;
            ENTRIES.add(new Entry(new WeakReference<>(weight), scope, bytes));
            return true;

        }
    }

    /** Bytes the filter cache may hold in all (process-wide). */
    static long budget() {
        synchronized (LOCK) {
            return budget;
        }
    }

    /**
     * The transformed filters to run a stride-1, padding-1 3x3 conv of this weight with Winograd, or null when the
     * direct conv should run: too few channels or tiles. The answer depends on the shape only; the cache decides
     * whether the filters are kept (see the class comment), never whether Winograd runs. Filters for layers of
     * fewer than 256 tiles (the U-Net's 16x16 level, the largest weights) are cached only while the cache is
     * under half the budget, so the larger images, which gain the most per cached byte, keep room.
     */
    static float[] filtersFor(Matrix weight, int cin, int oh, int ow) {
        int cout = weight.rows();
        long tiles = (long) ((oh + 1) / 2) * ((ow + 1) / 2);
        if (!ENABLED || cin < MIN_CHANNELS || cout < MIN_CHANNELS || tiles < MIN_TILES) return null;
        Object lowRank = weight.lowRank();
        if (lowRank != null) return filtersWithLowRank(weight, lowRank, cin, cout, tiles);
        float[] u = weight.winograd;
        if (u != null) return u;
        if (tiles >= PER_CALL_TILES) return transformedForOneCall(weight, cout, cin);
        synchronized (weight) {
            u = weight.winograd;
            if (u != null) return u;
            if (!reserve(weight, 64L * cout * cin, tiles < 256)) return transformedForOneCall(weight, cout, cin);
            return weight.winograd = transformFilters(weight, cout, cin);
        }
    }

    /**
     * The filters transformed for one call (not cached), in this thread's buffer: a transform writes all of its
     * 16 x cout x cin values, so the buffer is reused as it is, with no new array to zero (a new one cost
     * as much as the transform: 26 MB for 640 channels). Valid until this thread's next conv; soft, so memory
     * pressure may take it between calls.
     */
    private static float[] transformedForOneCall(Matrix weight, int cout, int cin) {
        int n = 16 * cout * cin;
        java.lang.ref.SoftReference<float[]> ref = SCRATCH.get();
        float[] s = ref == null ? null : ref.get();
        if (s == null || s.length < n) SCRATCH.set(new java.lang.ref.SoftReference<>(s = new float[n]));
        return transformFilters(weight, cout, cin, s);
    }

    private static final ThreadLocal<java.lang.ref.SoftReference<float[]>> SCRATCH = new ThreadLocal<>();

    /**
     * As {@link #filtersFor} for a weight with low-rank (LoRA) terms: the transform of W + terms is kept in a second
     * slot beside the base weight's, for as long as the same terms stay set (switching LoRAs recomputes it once).
     */
    private static float[] filtersWithLowRank(Matrix weight, Object lowRank, int cin, int cout, long tiles) {
        Matrix.LowRankFilters c = weight.winogradLowRank;
        if (c != null && c.key() == lowRank) return c.filters();
        if (tiles >= PER_CALL_TILES) return transformedForOneCall(weight, cout, cin);
        synchronized (weight) {
            c = weight.winogradLowRank;
            if (c != null && c.key() == lowRank) return c.filters();
            // The slot's bytes are reserved once per weight; later LoRAs replace its filters.
            if (c == null && !reserve(weight, 64L * cout * cin, tiles < 256)) return transformedForOneCall(weight, cout, cin);
            float[] u = transformFilters(weight, cout, cin);
            weight.winogradLowRank = new Matrix.LowRankFilters(lowRank, u);
            return u;
        }
    }

    /**
     * y[n, cout, h, w] = bias + conv3x3(x) with stride 1 and padding 1 on all sides, u the transformed filters
     * ({@link #transformFilters}) of a weight with cout rows.
     */
    static void forward(float[] x, int n, int cin, int h, int w, float[] u, int cout, float[] bias, float[] y) {
        forward(x, n, cin, h, w, u, cout, bias, y, CHUNK_FLOATS);
    }

    /** As above, with about chunkFloats floats in the V and M buffers (at least MIN_CHUNK_TILES tiles, one tile row). */
    static void forward(float[] x, int n, int cin, int h, int w, float[] u, int cout, float[] bias, float[] y, int chunkFloats) {
        forwardRows(x, n, cin, h, w, 1, 1, u, cout, bias, y, chunkFloats);
    }

    /**
     * As {@link #forward}, for an input of ih rows with padTop and padBottom (each 0 or 1) rows of zeros above and below
     * it (one column of zeros at each side, as always): y has oh = ih + padTop + padBottom - 2 rows. A band of an image's
     * rows, given with the input rows around it (padding 0 on a side that has them), gives exactly the rows of the whole
     * image's output when its first output row is even: its tiles and every sum in them are the same.
     */
    static void forwardRows(float[] x, int n, int cin, int ih, int w, int padTop, int padBottom, float[] u, int cout, float[] bias,
                            float[] y, int chunkFloats) {
        if (u.length < 16 * cout * cin) throw new IllegalArgumentException("transformed filters have " + u.length + " values, expected 16*" + cout + "*" + cin);
        if (padTop < 0 || padTop > 1 || padBottom < 0 || padBottom > 1 || ih + padTop + padBottom < 3)
            throw new IllegalArgumentException("Winograd rows: padding " + padTop + "/" + padBottom + " of " + ih + " input rows");
        int h = ih + padTop + padBottom - 2, th = (h + 1) / 2, tw = (w + 1) / 2;
        int rowsMax = Math.max(1, Math.max(MIN_CHUNK_TILES, chunkFloats / (16 * Math.max(cin, cout))) / tw);
        int chunks = (th + rowsMax - 1) / rowsMax, rowsPer = (th + chunks - 1) / chunks;
        int tcMax = rowsPer * tw;
        float[][] bufs = BUFS.get();
        if (bufs[0] == null || bufs[0].length < 16 * cin * tcMax) bufs[0] = new float[16 * cin * tcMax];
        if (bufs[1] == null || bufs[1].length < 16 * cout * tcMax) bufs[1] = new float[16 * cout * tcMax];
        float[] v = bufs[0], m = bufs[1];
        int plane = cout * cin;
        for (int b = 0; b < n; b++) {
            int xOff = b * cin * ih * w, yOff = b * cout * h * w;
            for (int ty0 = 0; ty0 < th; ty0 += rowsPer) {
                int ty1 = Math.min(th, ty0 + rowsPer), tc = (ty1 - ty0) * tw;
                final int t0 = ty0;
                Parallel.forRange(cin, 1, (c0, c1) -> inputTransform(x, xOff, ih, padTop, w, tw, t0, ty1, c0, c1, cin, tc, v));
                GemmKernel.PackA[] pa = new GemmKernel.PackA[16];
                GemmKernel.PackB[] pb = new GemmKernel.PackB[16];
                int[] cOff = new int[16];
                for (int e = 0; e < 16; e++) {
                    pa[e] = GemmKernel.packA(u, e * plane, cin, false);
                    pb[e] = GemmKernel.packB(v, e * cin * tc, tc, false);
                    cOff[e] = e * cout * tc;
                }
                GemmKernel.gemmBatch(cout, tc, cin, pa, pb, m, cOff, tc);
                Parallel.forRange(cout, 1, (o0, o1) -> outputTransform(m, cout, tc, tw, t0, ty1, o0, o1, bias, y, yOff, h, w));
            }
        }
    }

    /** Double lanes for the filter transform: as many bits as the float species. */
    private static final VectorSpecies<Double> DS = VectorSpecies.of(double.class, S.vectorShape());
    /** Float lanes that one double vector of {@link #DS} converts into (half the bits). */
    private static final VectorSpecies<Float> FH = VectorSpecies.of(float.class, VectorShape.forBitSize(Math.max(64, S.vectorBitSize() / 2)));
    /** True when each double vector converts into exactly one {@link #FH} vector (every preferred species from 128 bits). */
    private static final boolean VECTOR_FILTERS = FH.length() == DS.length();

    /**
     * U = G g Gᵀ per (cout, cin) pair, G = [[1,0,0],[½,½,½],[½,-½,½],[0,0,1]], computed in double and rounded once.
     * Vectorized over cin (each output row co, plane ξ is contiguous in cin): every lane does the operations of
     * {@link #transformFilter} in the same order, so the bits are the scalar ones.
     */
    static float[] transformFilters(Matrix weight, int cout, int cin) {
        return transformFilters(weight, cout, cin, new float[16 * cout * cin]);
    }

    /**
     * As above, into u (at least 16 x cout x cin floats; every one of them written). The vector passes are loops of their
     * own over arrays, none taking or returning a vector: written as one loop body holding the four rows, C2 stopped
     * inlining at its node limit (the third and fourth rows' calls and one conversion), so those vectors were allocated,
     * and a 640 x 640 transform took 38.5 ns per (cout, cin) pair under UseAVX=2 on one core.
     */
    static float[] transformFilters(Matrix weight, int cout, int cin, float[] u) {
        int plane = cout * cin;
        Parallel.forRange(cout, 1, (o0, o1) -> {
            float[] g = new float[cin * 9];
            // gd[p * cin + ci] = g[ci * 9 + p] for p < 9 (g de-interleaved), then rows 9-11 and 12-14: rows 1 and 2 of G g
            double[] gd = new double[15 * cin];
            double[] t = new double[12];
            for (int co = o0; co < o1; co++) {
                weight.readRow(co, 0, g, 0, cin * 9);
                int ci = 0, base = co * cin;
                if (VECTOR_FILTERS) {
                    for (int c = 0; c < cin; c++)
                        for (int p = 0; p < 9; p++) gd[p * cin + c] = g[c * 9 + p];
                    int ub = DS.loopBound(cin);
                    middleRowsOfGg(gd, cin, ub);
                    // each row (a, bb, c) of G g times Gᵀ: rows 0 (g's first), 1, 2, 3 (g's last) to planes 0-3, 4-7, 8-11, 12-15
                    rowTimesGt(gd, 0, cin, ub, u, base, plane);
                    rowTimesGt(gd, 9 * cin, cin, ub, u, base + 4 * plane, plane);
                    rowTimesGt(gd, 12 * cin, cin, ub, u, base + 8 * plane, plane);
                    rowTimesGt(gd, 6 * cin, cin, ub, u, base + 12 * plane, plane);
                    ci = ub;
                }
                for (; ci < cin; ci++) transformFilter(g, ci * 9, t, u, base + ci, plane);
            }
        });
        return u;
    }

    /**
     * Rows 1 and 2 of G g for the channels [0, n) (a multiple of the double lanes), from g's rows in gd (row p at p * cin):
     * ½ (g0j + g1j + g2j) to row 9 + j, ½ (g0j - g1j + g2j) to row 12 + j, in {@link #transformFilter}'s order.
     */
    private static void middleRowsOfGg(double[] gd, int cin, int n) {
        for (int ci = 0; ci < n; ci += DS.length())
            for (int j = 0; j < 3; j++) {
                DoubleVector g0 = DoubleVector.fromArray(DS, gd, j * cin + ci), g1 = DoubleVector.fromArray(DS, gd, (3 + j) * cin + ci),
                        g2 = DoubleVector.fromArray(DS, gd, (6 + j) * cin + ci);
                g0.add(g1).add(g2).mul(0.5).intoArray(gd, (9 + j) * cin + ci);
                g0.sub(g1).add(g2).mul(0.5).intoArray(gd, (12 + j) * cin + ci);
            }
    }

    /**
     * One row (a, bb, c) of G g times Gᵀ for the channels [0, n): a, bb and c at gd[row + ci], gd[row + cin + ci] and
     * gd[row + 2 cin + ci]; u[at + ci + j * plane] for j < 4, each rounded once to float.
     */
    private static void rowTimesGt(double[] gd, int row, int cin, int n, float[] u, int at, int plane) {
        for (int ci = 0; ci < n; ci += DS.length()) {
            DoubleVector a = DoubleVector.fromArray(DS, gd, row + ci), bb = DoubleVector.fromArray(DS, gd, row + cin + ci),
                    c = DoubleVector.fromArray(DS, gd, row + 2 * cin + ci);
            ((FloatVector) a.convertShape(VectorOperators.D2F, FH, 0)).intoArray(u, at + ci);
            ((FloatVector) a.add(bb).add(c).mul(0.5).convertShape(VectorOperators.D2F, FH, 0)).intoArray(u, at + ci + plane);
            ((FloatVector) a.sub(bb).add(c).mul(0.5).convertShape(VectorOperators.D2F, FH, 0)).intoArray(u, at + ci + 2 * plane);
            ((FloatVector) c.convertShape(VectorOperators.D2F, FH, 0)).intoArray(u, at + ci + 3 * plane);
        }
    }

    /** One (cout, cin) pair's 16 transformed values, from its 3x3 weights at g[o], to u[at + ξ * plane]. */
    static void transformFilter(float[] g, int o, double[] t, float[] u, int at, int plane) {
        for (int j = 0; j < 3; j++) {
            double g0 = g[o + j], g1 = g[o + 3 + j], g2 = g[o + 6 + j];
            t[j] = g0;
            t[3 + j] = 0.5 * (g0 + g1 + g2);
            t[6 + j] = 0.5 * (g0 - g1 + g2);
            t[9 + j] = g2;
        }
        for (int i = 0; i < 4; i++) {
            double a = t[i * 3], bb = t[i * 3 + 1], c = t[i * 3 + 2];
            int b = at + i * 4 * plane;
            u[b] = (float) a;
            u[b + plane] = (float) (0.5 * (a + bb + c));
            u[b + 2 * plane] = (float) (0.5 * (a - bb + c));
            u[b + 3 * plane] = (float) c;
        }
    }

    /**
     * V[ξ][c][tile] = Bᵀ d B for channels [c0, c1) and tile rows [ty0, ty1), Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]],
     * from an input of h rows whose row -padTop is the first of tile row 0 (rows outside [0, h) read as zeros).
     * The vertical pass runs on whole input rows (vectors), the horizontal one per tile.
     */
    static void inputTransform(float[] x, int xOff, int h, int padTop, int w, int tw, int ty0, int ty1, int c0, int c1,
                                       int cin, int tc, float[] v) {
        int pw = 2 * tw + 2 + 2 * L;
        float[][] s = new float[4][pw];   // padded: s[i][1 + ix], zero at 0 and past w (and one vector pair more)
        float[] zero = new float[w];
        for (int c = c0; c < c1; c++) {
            int chan = xOff + c * h * w;
            for (int ty = ty0; ty < ty1; ty++) {
                int iy = 2 * ty - padTop;
                float[] r0 = x, r1 = x, r2 = x, r3 = x;
                int o0 = chan + iy * w, o1 = o0 + w, o2 = o1 + w, o3 = o2 + w;
                if (iy < 0 || iy >= h) { r0 = zero; o0 = 0; }
                if (iy + 1 < 0 || iy + 1 >= h) { r1 = zero; o1 = 0; }
                if (iy + 2 >= h) { r2 = zero; o2 = 0; }
                if (iy + 3 >= h) { r3 = zero; o3 = 0; }
                sub(r0, o0, r2, o2, s[0], 1, w);
                add(r1, o1, r2, o2, s[1], 1, w);
                sub(r2, o2, r1, o1, s[2], 1, w);
                sub(r1, o1, r3, o3, s[3], 1, w);
                int col = (ty - ty0) * tw;
                for (int i = 0; i < 4; i++) {
                    float[] p = s[i];
                    int d0 = ((i * 4) * cin + c) * tc + col, d1 = d0 + cin * tc, d2 = d1 + cin * tc, d3 = d2 + cin * tc;
                    int t = 0;
                    for (int ub = S.loopBound(tw); t < ub; t += L) {
                        // even / odd lanes of p[2t ..) and of p[2t + 2 ..): p0, p1 and p2, p3 of L tiles
                        FloatVector a = FloatVector.fromArray(S, p, 2 * t), b = FloatVector.fromArray(S, p, 2 * t + L);
                        FloatVector a2 = FloatVector.fromArray(S, p, 2 * t + 2), b2 = FloatVector.fromArray(S, p, 2 * t + 2 + L);
                        FloatVector p0 = EVEN.selectFrom(a, b), p1 = ODD.selectFrom(a, b);
                        FloatVector p2 = EVEN.selectFrom(a2, b2), p3 = ODD.selectFrom(a2, b2);
                        p0.sub(p2).intoArray(v, d0 + t);
                        p1.add(p2).intoArray(v, d1 + t);
                        p2.sub(p1).intoArray(v, d2 + t);
                        p1.sub(p3).intoArray(v, d3 + t);
                    }
                    for (; t < tw; t++) {
                        float p0 = p[2 * t], p1 = p[2 * t + 1], p2 = p[2 * t + 2], p3 = p[2 * t + 3];
                        v[d0 + t] = p0 - p2;
                        v[d1 + t] = p1 + p2;
                        v[d2 + t] = p2 - p1;
                        v[d3 + t] = p1 - p3;
                    }
                }
            }
        }
    }

    /**
     * y = Aᵀ M A + bias for output channels [o0, o1) and tile rows [ty0, ty1), Aᵀ = [[1,1,1,0],[0,1,-1,-1]];
     * the vertical pass over whole tile rows (vectors), the horizontal one per tile.
     */
    static void outputTransform(float[] m, int cout, int tc, int tw, int ty0, int ty1, int o0, int o1,
                                        float[] bias, float[] y, int yOff, int h, int w) {
        float[][] q = new float[8][tw];   // q[a*4 + k]: output row a, transform column k
        int half = w / 2;
        for (int co = o0; co < o1; co++) {
            float bv = bias == null ? 0f : bias[co];
            for (int ty = ty0; ty < ty1; ty++) {
                int col = (ty - ty0) * tw;
                for (int k = 0; k < 4; k++) {
                    int m0 = (k * cout + co) * tc + col, step = 4 * cout * tc;
                    sum3(m, m0, m0 + step, m0 + 2 * step, q[k], tw);
                    diff3(m, m0 + step, m0 + 2 * step, m0 + 3 * step, q[4 + k], tw);
                }
                for (int a = 0; a < 2; a++) {
                    int oy = 2 * ty + a;
                    if (oy >= h) break;
                    float[] qa0 = q[a * 4], qa1 = q[a * 4 + 1], qa2 = q[a * 4 + 2], qa3 = q[a * 4 + 3];
                    int row = yOff + (co * h + oy) * w;
                    int t = 0;
                    for (int ub = S.loopBound(half); t < ub; t += L) {
                        FloatVector b1 = FloatVector.fromArray(S, qa1, t), b2 = FloatVector.fromArray(S, qa2, t);
                        FloatVector e = FloatVector.fromArray(S, qa0, t).add(b1).add(b2).add(bv);
                        FloatVector o = b1.sub(b2).sub(FloatVector.fromArray(S, qa3, t)).add(bv);
                        LO.selectFrom(e, o).intoArray(y, row + 2 * t);
                        HI.selectFrom(e, o).intoArray(y, row + 2 * t + L);
                    }
                    for (; t < half; t++) {
                        float b1 = qa1[t], b2 = qa2[t];
                        y[row + 2 * t] = qa0[t] + b1 + b2 + bv;
                        y[row + 2 * t + 1] = b1 - b2 - qa3[t] + bv;
                    }
                    if ((w & 1) != 0) y[row + w - 1] = qa0[half] + qa1[half] + qa2[half] + bv;
                }
            }
        }
    }

    private static void sub(float[] a, int ao, float[] b, int bo, float[] d, int dOff, int n) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, a, ao + i).sub(FloatVector.fromArray(S, b, bo + i)).intoArray(d, dOff + i);
        for (; i < n; i++) d[dOff + i] = a[ao + i] - b[bo + i];
    }

    private static void add(float[] a, int ao, float[] b, int bo, float[] d, int dOff, int n) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, a, ao + i).add(FloatVector.fromArray(S, b, bo + i)).intoArray(d, dOff + i);
        for (; i < n; i++) d[dOff + i] = a[ao + i] + b[bo + i];
    }

    /** d = m[a] + m[b] + m[c] over n elements. */
    private static void sum3(float[] m, int a, int b, int c, float[] d, int n) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, m, a + i).add(FloatVector.fromArray(S, m, b + i)).add(FloatVector.fromArray(S, m, c + i)).intoArray(d, i);
        for (; i < n; i++) d[i] = m[a + i] + m[b + i] + m[c + i];
    }

    /** d = m[a] - m[b] - m[c] over n elements. */
    private static void diff3(float[] m, int a, int b, int c, float[] d, int n) {
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += S.length())
            FloatVector.fromArray(S, m, a + i).sub(FloatVector.fromArray(S, m, b + i)).sub(FloatVector.fromArray(S, m, c + i)).intoArray(d, i);
        for (; i < n; i++) d[i] = m[a + i] - m[b + i] - m[c + i];
    }
}

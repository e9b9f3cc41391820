package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Multi-head scaled-dot-product attention. q is {@code [batch, lq, heads*headDim]}, k and v are
 * {@code [batch, lk, heads*headDim]} (token-major, as linear layers produce them), out is like q.
 *
 * <p>Flash-style, on transposed tiles: for each (batch, head, tile of BQ queries) the keys are visited in tiles of
 * BK with an online softmax, so the lq x lk score matrix is never materialised. Both products run on the GEMM
 * micro-kernel with the queries as its columns: Sᵀ = K (Q scale)ᵀ (rows: keys, depth: the head dimension) is
 * written as NR-query panels, which are the B panels of Oᵀ += Vᵀ Pᵀ (rows: the head dimension, depth: the keys).
 * So neither product pads the head dimension to a vector multiple (40, 80, 160 are multiples of every
 * micro-kernel's rows), the softmax runs down the panel's key rows with one query per lane (no horizontal
 * reductions), and the micro-kernel writes both products in place. Exponentials use {@link VMath#exp}; the tiles
 * are fixed by the shape, so results are identical at any thread count.
 */
public final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> S = KernelConfig.SPECIES;
    private static final int L = S.length();
    private static final int MR = GemmKernel.MR, NR = GemmKernel.NR;
    /** Query and key tile sizes: about 64 x 192 on every ISA (multiples of the micro-kernel's NR and MR). */
    private static final int BQ = KernelConfig.ATTENTION_QUERIES, BK = KernelConfig.ATTENTION_KEYS;

    /** Per-thread tile buffers, reused while the head size stays the same. */
    private static final ThreadLocal<Tile> TILES = new ThreadLocal<>();

    /** Causal masks key j for query i when j > i (top-left aligned, as torch's is_causal). */
    public static void forward(float[] q, float[] k, float[] v, int batch, int heads, int lq, int lk, int headDim,
                               boolean causal, float scale, float[] out) {
        // Vᵀ gets a row of ones (the softmax sums) where the head dimension leaves a padding row anyway (d % MR != 0);
        // else the sums are added up in the exponential pass, so the product needs no extra MR rows (d = 40 at 8 rows)
        forward(q, k, v, batch, heads, lq, lk, headDim, causal, scale, out, headDim % MR != 0);
    }

    /** {@link #forward}, with the softmax sums taken by a ones row of Vᵀ (onesRow) or in the exponential pass: same bits. */
    static void forward(float[] q, float[] k, float[] v, int batch, int heads, int lq, int lk, int headDim,
                        boolean causal, float scale, float[] out, boolean onesRow) {
        long prof0 = Profiler.start();
        try {
            if (batch <= 0 || heads <= 0 || lq <= 0) return;
            int dm = heads * headDim;
            if (q.length < (long) batch * lq * dm || out.length < (long) batch * lq * dm || k.length < (long) batch * lk * dm || v.length < (long) batch * lk * dm)
                throw new IllegalArgumentException("attention: arrays smaller than batch*len*heads*headDim");
            if (lk <= 0 || headDim <= 0) {
                Arrays.fill(out, 0, batch * lq * dm, 0f);
                return;
            }
            int d = headDim, dRows = vRows(d, onesRow), lkRows = (lk + MR - 1) / MR * MR;
            long kSize = (long) lkRows * d, vSize = (long) dRows * ((lk + BK - 1) / BK) * BK;
            if (kSize * batch * heads > Integer.MAX_VALUE - 16 || vSize * batch * heads > Integer.MAX_VALUE - 16)
                throw new IllegalArgumentException("attention: key/value too large to pack");
            float[] kAll = buffer(K_BUF, (int) (kSize * batch * heads)), vAll = buffer(V_BUF, (int) (vSize * batch * heads));
            // by blocks of key rows, all heads of a row together: k and v are read once, in order
            int chunks = (lk + PACK_ROWS - 1) / PACK_ROWS;
            float[] chunkMax = new float[batch * chunks], kMax = new float[batch];
            Parallel.forTasks(batch * chunks, (t0, t1) -> {
                for (int t = t0; t < t1; t++) {
                    int b = t / chunks, j0 = (t % chunks) * PACK_ROWS;
                    chunkMax[t] = packRows(k, v, b, j0, Math.min(lk, j0 + PACK_ROWS), heads, lk, d, dRows, onesRow, kAll, kSize, vAll, vSize);
                }
            });
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < chunks; c++) kMax[b] = Math.max(kMax[b], chunkMax[b * chunks + c]);
            int qTiles = (lq + BQ - 1) / BQ;
            Parallel.forTasks(batch * heads * qTiles, (t0, t1) -> {
                Tile tile = TILES.get();
                if (tile == null || tile.d != d || tile.onesRow != onesRow) TILES.set(tile = new Tile(d, onesRow));
                for (int t = t0; t < t1; t++) {
                    int qt = t % qTiles, bh = t / qTiles, h = bh % heads, b = bh / heads;
                    tile.run(q, kAll, (int) (bh * kSize), kMax[b], vAll, (int) (bh * vSize), b, h, qt * BQ, Math.min(BQ, lq - qt * BQ),
                            lq, lk, dm, causal, scale, out);
                }
            });
        } finally {
            Profiler.stop(Profiler.Op.ATTENTION, prof0, 4L * batch * heads * lq * lk * headDim, batch, heads, lq, lk, headDim);
        }
    }

    /**
     * The calling thread's buffers for packed K and Vᵀ, reused from call to call (soft, so memory pressure may take them
     * between calls). Packing writes every element a call's products read and zeroes the padding, so they are not
     * cleared: a new 10 MB pair per call (4096 keys x 320) cost about 2 ms to allocate and zero, as much as packing it.
     */
    private static final ThreadLocal<java.lang.ref.SoftReference<float[]>> K_BUF = new ThreadLocal<>(), V_BUF = new ThreadLocal<>();

    private static float[] buffer(ThreadLocal<java.lang.ref.SoftReference<float[]>> slot, int n) {
        java.lang.ref.SoftReference<float[]> ref = slot.get();
        float[] b = ref == null ? null : ref.get();
        if (b == null || b.length < n) slot.set(new java.lang.ref.SoftReference<>(b = new float[n]));
        return b;
    }

    /** Key rows a packing task takes. */
    private static final int PACK_ROWS = 128;

    /**
     * Packs the key rows [j0, j1) of batch entry b, every head, as the micro-kernel's A panels (MR rows, k-interleaved):
     * head h's K (at kp[(b heads + h) kSize]) by blocks of MR keys ([block][t][key % MR], zero keys up to a multiple
     * of MR) and its Vᵀ (at vt[(b heads + h) vSize]) by key tile, each tile by blocks of MR rows of the head dimension
     * ([tile][t / MR][key - tile start][t % MR]), so the rows a product reads are close together. With onesRow, Vᵀ's
     * row d is all ones (then zero rows up to a multiple of MR): the product Oᵀ += Vᵀ Pᵀ then also sums each query's P
     * into Oᵀ's row d, the softmax denominator, with no pass of its own. The padding (Vᵀ's rows past d, or past the
     * ones row, and, by the task with the last row, K's keys up to a multiple of MR and Vᵀ's up to a whole tile) is
     * zeroed: the buffers are reused. Returns the rows' largest |k| (see {@link #ABS_BITS}).
     */
    private static float packRows(float[] k, float[] v, int b, int j0, int j1, int heads, int lk, int d, int dRows, boolean onesRow,
                                  float[] kp, long kSize, float[] vt, long vSize) {
        int dm = heads * d;
        IntVector maxBits = FloatVector.zero(S).reinterpretAsInts();
        int tailBits = 0;
        for (int j = j0; j < j1; j++) {
            int row = (b * lk + j) * dm, i = 0;
            for (; i + L <= dm; i += L) maxBits = maxBits.max(FloatVector.fromArray(S, k, row + i).reinterpretAsInts().and(ABS_BITS));
            for (; i < dm; i++) tailBits = Math.max(tailBits, Float.floatToRawIntBits(k[row + i]) & ABS_BITS);
            for (int h = 0; h < heads; h++) {
                int src = row + h * d, bh = b * heads + h;
                int kd = kAt(bh, kSize, j, d), vd = vAt(bh, vSize, j, dRows);
                for (int t = 0; t < d; t++) {
                    kp[kd + t * MR] = k[src + t];
                    vt[vd + vRow(t)] = v[src + t];
                }
                if (onesRow) vt[vd + vRow(d)] = 1f;
                for (int t = onesRow ? d + 1 : d; t < dRows; t++) vt[vd + vRow(t)] = 0f;
            }
        }
        if (j1 == lk)
            for (int h = 0; h < heads; h++) {
                int bh = b * heads + h;
                for (int j = lk; j < (lk + MR - 1) / MR * MR; j++)
                    for (int t = 0, kd = kAt(bh, kSize, j, d); t < d; t++) kp[kd + t * MR] = 0f;
                for (int j = lk; j < (lk + BK - 1) / BK * BK; j++)
                    for (int t = 0, vd = vAt(bh, vSize, j, dRows); t < dRows; t++) vt[vd + vRow(t)] = 0f;
            }
        return Float.intBitsToFloat(Math.max(tailBits, maxBits.reduceLanes(VectorOperators.MAX)));
    }

    /** Where key j's K column starts in head bh's packed K: its block of MR keys, then its lane (element t at + t MR). */
    private static int kAt(int bh, long kSize, int j, int d) { return (int) (bh * kSize) + (j / MR) * MR * d + j % MR; }

    /** Where key j's Vᵀ column starts in head bh's packed Vᵀ: its key tile, then its place in the tile (row t at + {@link #vRow}). */
    private static int vAt(int bh, long vSize, int j, int dRows) { return (int) (bh * vSize) + (j / BK) * dRows * BK + (j % BK) * MR; }

    /** Offset of Vᵀ's row t from a key's column start: its block of MR rows, then its lane. */
    private static int vRow(int t) { return (t / MR) * MR * BK + t % MR; }

    /**
     * Whether no score can be NaN or infinite, given the largest |q scale| and |k|: every partial sum of a score's d
     * products is then at most d qBound kBound in magnitude (rounding adds less than a factor (1 + 2^-24)^d). False
     * when a bound is NaN or infinite (a NaN or infinite input). Where it holds, a shifted score x = s - max is never
     * NaN (finite minus finite, or a masked -Inf minus a finite max or the 0 shift of an all-masked query), and the
     * softmax takes the cheaper clamp ({@link VMath#expNonPositiveNotNaN}: the same bits); elsewhere the one that
     * keeps NaN.
     */
    static boolean scoresFinite(int d, float qBound, float kBound) { return (double) d * qBound * kBound < 1e37; }

    /**
     * A float's bits and this are the bits of its magnitude: the largest |x| of a set is the float of the largest of
     * these (they order as the magnitudes do, a NaN's above +Inf's, so a NaN gives NaN). Attention takes them as the rows
     * of q and k are read for packing, inline (a call taking a vector that C2 does not inline allocates it), rather
     * than in a pass of its own, whose reads miss the cache: a whole-array pass cost about what the cheaper clamp saves.
     */
    private static final int ABS_BITS = 0x7fffffff;

    /** Rows of a head's packed Vᵀ (and of Oᵀ): d, plus the ones row when onesRow, up to a multiple of MR. */
    private static int vRows(int d, boolean onesRow) { return (d + (onesRow ? MR : MR - 1)) / MR * MR; }

    /** Per-task buffers and the tile loop. */
    private static final class Tile {
        final int d, dRows;
        /** Whether Oᵀ's row d collects the softmax sums (Vᵀ has a row of ones); else {@link #sum} does. */
        final boolean onesRow;
        /**
         * (Q scale)ᵀ, Sᵀ / Pᵀ and Oᵀ as NR-query panels: [panel][row][NR] (with the ones row, Oᵀ's row d: the running
         * sum of P); running max, shift, rescale factor and (without the ones row) softmax sum per query.
         */
        final float[] qt, st, ot, m, shift, corr, sum;

        Tile(int d, boolean onesRow) {
            this.d = d;
            this.dRows = vRows(d, onesRow);
            this.onesRow = onesRow;
            qt = new float[BQ * d];
            st = new float[BQ * BK];
            ot = new float[BQ * dRows];
            m = new float[BQ];
            shift = new float[BQ];
            corr = new float[BQ];
            sum = new float[BQ];
        }

        void run(float[] q, float[] kp, int ko, float kMax, float[] vt, int vo, int b, int h, int i0, int rows, int lq, int lk, int dm,
                 boolean causal, float scale, float[] out) {
            int panels = (rows + NR - 1) / NR;
            Arrays.fill(qt, 0, panels * d * NR, 0f);   // padded query lanes score 0 and are never written out
            IntVector maxBits = FloatVector.zero(S).reinterpretAsInts();
            int tailBits = 0;
            for (int i = 0; i < rows; i++) {
                int src = (b * lq + i0 + i) * dm + h * d, dst = (i / NR) * d * NR + i % NR;
                int t = 0;
                for (; t + L <= d; t += L) maxBits = maxBits.max(FloatVector.fromArray(S, q, src + t).reinterpretAsInts().and(ABS_BITS));
                for (; t < d; t++) tailBits = Math.max(tailBits, Float.floatToRawIntBits(q[src + t]) & ABS_BITS);
                for (t = 0; t < d; t++) qt[dst + t * NR] = q[src + t] * scale;
            }
            float qMax = Float.intBitsToFloat(Math.max(tailBits, maxBits.reduceLanes(VectorOperators.MAX)));
            boolean finite = scoresFinite(d, qMax * Math.abs(scale), kMax);
            Arrays.fill(ot, 0, panels * dRows * NR, 0f);
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            Arrays.fill(sum, 0f);
            int kEnd = causal ? Math.min(lk, i0 + rows) : lk;
            for (int j0 = 0; j0 < kEnd; j0 += BK) {
                int bk = Math.min(BK, kEnd - j0), bkRows = (bk + MR - 1) / MR * MR;
                for (int p = 0; p < panels; p++) {
                    int so = p * BK * NR;
                    for (int kk = 0; kk < bkRows; kk += MR)
                        GemmKernel.micro(d, kp, ko + (j0 + kk) * d, qt, p * d * NR, st, so + kk * NR, NR, false);
                    softmaxStep(p, so, i0 + p * NR, j0, bk, causal, finite);
                    int oo = p * dRows * NR;
                    for (int t = 0; t < dRows; t += MR)
                        GemmKernel.micro(bk, vt, vo + j0 * dRows + t * BK, st, so, ot, oo + t * NR, NR, true);
                }
            }
            for (int i = 0; i < rows; i++) {
                int dst = (b * lq + i0 + i) * dm + h * d, src = (i / NR) * dRows * NR + i % NR;
                float total = onesRow ? ot[src + d * NR] : sum[i], inv = total > 0f ? 1f / total : 0f;
                for (int t = 0; t < d; t++) out[dst + t] = ot[src + t * NR] * inv;
            }
        }

        /**
         * Online softmax on one panel's score rows (bk keys from j0, NR queries from query i0, one per lane): updates m,
         * rescales the panel's O rows (and row d, the running sum), leaves P in the score rows (0 for masked keys). The
         * causal mask is applied by separate passes, so the hot loops carry no masking (C2 compiles them alike whichever
         * kind came first). Each pass is a method of its own taking arrays, not vectors: one body holding them all grew
         * past C2's inlining limits, and vectors crossing a call that is not inlined are allocated.
         */
        private void softmaxStep(int p, int so, int i0, int j0, int bk, boolean causal, boolean finite) {
            if (causal) mask(so, i0, j0, bk, Float.NEGATIVE_INFINITY);
            for (int v = 0; v < NR; v += L) columnMax(st, so + v, bk, shift, p * NR + v);
            updateMax(m, shift, corr, p * NR);
            for (int v = 0; v < NR; v += L) {
                int lane = p * NR + v;
                if (onesRow) expShifted(st, so + v, bk, shift, lane, finite);
                else expShiftedSummed(st, so + v, bk, shift, sum, corr, lane, finite);
                scaleRows(ot, p * dRows * NR + v, onesRow ? d + 1 : d, corr, lane);   // with the ones row: the sums too
            }
            if (causal) mask(so, i0, j0, bk, 0f);
        }

        /**
         * For the NR queries from lane, given the key block's maxima in shift: m := max(m, shift); shift := the new m (0
         * where it is still -inf: a lane with no valid key yet, whose P is masked to 0 and whose O and sum are 0); corr :=
         * e^(old m - new m), the factor for O and the sum (0 where the old m was -inf). A method of its own, with its
         * exponential in a loop over the panel: written in softmaxStep's lane loop, C2 in whole runs judged that exp's
         * call site too rare to inline (-XX:+PrintInlining: "low call site frequency") and allocated its vectors.
         */
        private static void updateMax(float[] m, float[] shift, float[] corr, int lane0) {
            for (int lane = lane0; lane < lane0 + NR; lane += L) {
                FloatVector mOld = FloatVector.fromArray(S, m, lane), mNew = mOld.max(FloatVector.fromArray(S, shift, lane));
                mNew.intoArray(m, lane);
                FloatVector sh = mNew.blend(0f, mNew.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY));
                sh.intoArray(shift, lane);
                VMath.expNonPositive(mOld.sub(sh)).blend(0f, mOld.compare(VectorOperators.EQ, Float.NEGATIVE_INFINITY)).intoArray(corr, lane);
            }
        }

        /**
         * out[lane..] = the lane-wise max of rows rows of a panel (one vector from off every NR floats), on four
         * accumulators, so the loop is not one chain of dependent operations. Each step is a compare and a blend, not
         * max (see {@link VMath}: fewer instructions; a NaN score is skipped here but makes its query's row NaN anyway,
         * and a shift of -0 or +0 gives the same exponentials), so the order of the rows does not change the result.
         */
        private static void columnMax(float[] x, int off, int rows, float[] out, int lane) {
            FloatVector m0 = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), m1 = m0, m2 = m0, m3 = m0;
            int j = 0;
            for (; j + 4 <= rows; j += 4) {
                int i = off + j * NR;
                FloatVector v0 = FloatVector.fromArray(S, x, i), v1 = FloatVector.fromArray(S, x, i + NR),
                        v2 = FloatVector.fromArray(S, x, i + 2 * NR), v3 = FloatVector.fromArray(S, x, i + 3 * NR);
                m0 = m0.blend(v0, v0.compare(VectorOperators.GT, m0));
                m1 = m1.blend(v1, v1.compare(VectorOperators.GT, m1));
                m2 = m2.blend(v2, v2.compare(VectorOperators.GT, m2));
                m3 = m3.blend(v3, v3.compare(VectorOperators.GT, m3));
            }
            for (; j < rows; j++) {
                FloatVector v = FloatVector.fromArray(S, x, off + j * NR);
                m0 = m0.blend(v, v.compare(VectorOperators.GT, m0));
            }
            m0 = m0.blend(m1, m1.compare(VectorOperators.GT, m0));
            m2 = m2.blend(m3, m3.compare(VectorOperators.GT, m2));
            m0.blend(m2, m2.compare(VectorOperators.GT, m0)).intoArray(out, lane);
        }

        /**
         * Panel rows (one vector from off every NR floats) x := e^(x - shift[lane..]), x - shift being at most 0; finite:
         * no x - shift is NaN ({@link #scoresFinite}), so the exponential may take the cheaper clamp (the same bits).
         */
        private static void expShifted(float[] x, int off, int rows, float[] shift, int lane, boolean finite) {
            FloatVector sh = FloatVector.fromArray(S, shift, lane);
            for (int j = 0; j < rows; j++) {
                int i = off + j * NR;
                FloatVector y = FloatVector.fromArray(S, x, i).sub(sh);
                (finite ? VMath.expNonPositiveNotNaN(y) : VMath.expNonPositive(y)).intoArray(x, i);
            }
        }

        /**
         * {@link #expShifted}, also updating the softmax sums: sum[lane..] = sum * corr + (the new P rows added in order from
         * zero), the operations the ones row of Vᵀ performs, in the same order (its Oᵀ row scaled by corr, then the
         * micro-kernel's FMA chain of 1 x P from zero added to it), so the results do not depend on which a head uses.
         */
        private static void expShiftedSummed(float[] x, int off, int rows, float[] shift, float[] sum, float[] corr, int lane,
                                             boolean finite) {
            FloatVector sh = FloatVector.fromArray(S, shift, lane);
            FloatVector s = FloatVector.zero(S);
            for (int j = 0; j < rows; j++) {
                int i = off + j * NR;
                FloatVector y = FloatVector.fromArray(S, x, i).sub(sh);
                FloatVector e = finite ? VMath.expNonPositiveNotNaN(y) : VMath.expNonPositive(y);
                e.intoArray(x, i);
                s = s.add(e);
            }
            FloatVector.fromArray(S, sum, lane).mul(FloatVector.fromArray(S, corr, lane)).add(s).intoArray(sum, lane);
        }

        /** Panel rows (one vector from off every NR floats) x *= c[lane..]. */
        private static void scaleRows(float[] x, int off, int rows, float[] c, int lane) {
            FloatVector f = FloatVector.fromArray(S, c, lane);
            for (int t = 0; t < rows; t++) FloatVector.fromArray(S, x, off + t * NR).mul(f).intoArray(x, off + t * NR);
        }

        /** Sets the scores of keys after their query (key j0 + j > query i0 + lane) to value. */
        private void mask(int so, int i0, int j0, int bk, float value) {
            for (int j = 0; j < bk; j++) {
                int before = Math.min(NR, j0 + j - i0);   // lanes [0, before) hold queries before key j0 + j
                for (int lane = 0; lane < before; lane++) st[so + j * NR + lane] = value;
            }
        }
    }
}

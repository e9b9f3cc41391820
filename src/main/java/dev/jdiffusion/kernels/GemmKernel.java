package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The blocked single-precision GEMM engine behind {@link Gemm} and {@link Conv2d}:
 * C[M x N] = alpha * A[M x K] * B[K x N] (+ beta * C, + a bias per row or per column).
 *
 * <p>BLIS-style: B is packed in KC x NC blocks into NR-wide column panels, A in MC x KC blocks into
 * MR-high row panels, and a register-blocked MR x NR micro-kernel ({@link MicroKernels}, its
 * shape chosen per ISA by {@link KernelConfig}, e.g. 8 rows x 2 vectors with AVX-512, 3 x 3 with AVX2) runs over
 * the packed panels into a small accumulator tile, which {@link #apply} adds to C. Several K blocks are packed at once
 * and run back to back on each panel ({@link #kGroup}), so C is read back from cache, not memory, between them.
 * Callers supply packers, so operands
 * can be transposed, strided, converted from F16/BF16 or gathered (im2col) while packing, with no full copy.
 *
 * <p>Parallel over a grid of C tiles, one task per tile running the whole K loop (one barrier per call).
 * Every element of C sums its K products in the same order (KC blocks in sequence, k ascending within a
 * block) whatever the tile or thread that computes it, so results do not depend on the thread count.
 */
final class GemmKernel {
    private GemmKernel() {}

    static final VectorSpecies<Float> S = KernelConfig.SPECIES;
    static final int L = S.length();
    /** Micro-kernel rows and columns, chosen per ISA by {@link KernelConfig}. */
    static final int MR = KernelConfig.MICRO_ROWS;
    static final int NR = KernelConfig.MICRO_COLS;
    static final int KC = KernelConfig.KC, MC = KernelConfig.MC, NC = KernelConfig.NC;

    /**
     * Packs rows [i0, i0+mc) x columns [k0, k0+kc) of A into MR-row panels, k-interleaved: row r, column k at
     * dst[dstOff + (r/MR)*MR*kc + k*MR + r%MR] ({@link #rowStart}), and zero rows from mc up to the next multiple of MR
     * (the micro-kernel reads MR rows at a time).
     */
    interface PackA {
        void pack(int i0, int mc, int k0, int kc, float[] dst, int dstOff);

        /**
         * Packs the rows [i0, i0+mc) of consecutive K blocks g < blocks, block g spanning the columns
         * [k0 + g*KC, min(k0 + (g+1)*KC, kEnd)), to dst[dstOff + g*stride] each, as {@link #pack} does one. Packers
         * of mapped weights read each row's span once here (a row of F16 weights is 23 KB apart from the next in a
         * conv of 1280 channels: read a block at a time, the rows' reads were half the cost of the conv's A panels).
         */
        default void packBlocks(int i0, int mc, int k0, int kEnd, int blocks, float[] dst, int dstOff, int stride) {
            for (int g = 0; g < blocks; g++) {
                int pc = k0 + g * KC;
                pack(i0, mc, pc, Math.min(KC, kEnd - pc), dst, dstOff + g * stride);
            }
        }
    }

    /**
     * Packs rows [k0, k0+kc) x columns [j0, j0+nc) of B into NR-column panels starting at dst[dstOff]:
     * dst[dstOff + (q*kc + k)*NR + j], zero padded to whole panels. j0 is a multiple of NR relative to the block.
     */
    interface PackB {
        void pack(int k0, int kc, int j0, int nc, float[] dst, int dstOff);
    }

    private static final ThreadLocal<float[][]> A_BUF = ThreadLocal.withInitial(() -> new float[1][]);
    private static final ThreadLocal<float[]> T_BUF = ThreadLocal.withInitial(() -> new float[MR * NR]);
    private static final ThreadLocal<float[][]> B_BUF = ThreadLocal.withInitial(() -> new float[1][]);

    /**
     * Runs the product. rowBias (length M) or colBias (length N), when not null, are added once. When beta is 0,
     * C is not read.
     */
    static void gemm(int M, int N, int K, float alpha, PackA pa, PackB pb, float beta,
                     float[] c, int cOff, int ldc, float[] rowBias, float[] colBias) {
        gemm(M, N, K, alpha, pa, pb, beta, c, cOff, ldc, rowBias, colBias, false);
    }

    /**
     * As above; splitColumnsFirst asks the task grid to split N before M (each column tile packs its B panels
     * once, so B, e.g. a converted F16 weight, is packed about once in total).
     */
    static void gemm(int M, int N, int K, float alpha, PackA pa, PackB pb, float beta,
                     float[] c, int cOff, int ldc, float[] rowBias, float[] colBias, boolean splitColumnsFirst) {
        if (M <= 0 || N <= 0) return;
        if (K <= 0) {
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    int ci = cOff + i * ldc + j;
                    float v = beta == 0f ? 0f : beta * c[ci];
                    if (rowBias != null) v += rowBias[i];
                    if (colBias != null) v += colBias[j];
                    c[ci] = v;
                }
            return;
        }
        // Split C into a grid of rs x cs tiles, one task each; every task runs the whole K loop for its tile,
        // packing its own panels, so a call has a single barrier (robust when cores are shared or oversubscribed).
        int[] grid = grid(M, N, taskTarget(2.0 * M * N * K), splitColumnsFirst);
        int rowBlock = grid[0], colBlock = grid[1];
        int rTiles = (M + rowBlock - 1) / rowBlock, cTiles = (N + colBlock - 1) / colBlock;
        Parallel.forTasks(rTiles * cTiles, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int i0 = (t / cTiles) * rowBlock, j0 = (t % cTiles) * colBlock;
                tile(i0, Math.min(M, i0 + rowBlock), j0, Math.min(N, j0 + colBlock), K, alpha, pa, pb, beta, c, cOff, ldc, rowBias, colBias);
            }
        });
    }

    /**
     * A batch of independent products C_b = A_b * B_b (b < pa.length, all M x N x K, alpha 1, beta 0, no bias),
     * C_b at c[cOff[b]] with row stride ldc, run as one parallel task list (one barrier for the whole batch).
     */
    static void gemmBatch(int M, int N, int K, PackA[] pa, PackB[] pb, float[] c, int[] cOff, int ldc) {
        int batch = pa.length;
        if (M <= 0 || N <= 0 || batch == 0) return;
        if (K <= 0) {
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < M; i++) java.util.Arrays.fill(c, cOff[b] + i * ldc, cOff[b] + i * ldc + N, 0f);
            return;
        }
        int target = taskTarget(2.0 * M * N * K * batch);
        int[] grid = grid(M, N, (target + batch - 1) / batch, false);
        int rowBlock = grid[0], colBlock = grid[1];
        int rTiles = (M + rowBlock - 1) / rowBlock, cTiles = (N + colBlock - 1) / colBlock, per = rTiles * cTiles;
        Parallel.forTasks(batch * per, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int b = t / per, r = t % per;
                int i0 = (r / cTiles) * rowBlock, j0 = (r % cTiles) * colBlock;
                tile(i0, Math.min(M, i0 + rowBlock), j0, Math.min(N, j0 + colBlock), K, 1f, pa[b], pb[b], 0f, c, cOff[b], ldc, null, null);
            }
        });
    }

    /**
     * How many tasks a product of this many FLOPs is worth splitting into: up to 4 per thread, and a multiple of the
     * thread count when there are at least as many tasks as threads (9 equal tiles on 2 threads leave one thread
     * idle for a ninth of the time).
     */
    static int taskTarget(double flops) {
        int threads = Parallel.threads();
        if (threads == 1 || flops < 4e6) return 1;
        int t = (int) Math.min(4L * threads, Math.max(1, (long) (flops / 2e6)));
        return t >= threads ? t / threads * threads : t;
    }

    /**
     * Row and column block sizes (MR / NR multiples) of a grid of exactly target C tiles where one exists: among the
     * factor pairs rs x cs = target whose MR / NR-rounded blocks give exactly that many tiles (no thread idles for a
     * last, extra tile), the one that packs the fewest elements in total: A is packed once per column tile
     * (M x K x cs) and B once per row tile (K x N x rs; counted 4 times when splitColumnsFirst, as B is then a weight
     * converted from F16 while packing). Else the nearest grid of at least target tiles.
     */
    static int[] grid(int M, int N, int target, boolean splitColumnsFirst) {
        int maxRs = (M + MR * 8 - 1) / (MR * 8), maxCs = (N + NR - 1) / NR;
        int[] best = null;
        double bestCost = Double.MAX_VALUE;
        for (int rs = 1; rs <= target; rs++) {
            if (target % rs != 0) continue;
            int cs = target / rs;
            if (rs > maxRs || cs > maxCs) continue;
            int rb = roundUp((M + rs - 1) / rs, MR), cb = roundUp((N + cs - 1) / cs, NR);
            if ((long) ((M + rb - 1) / rb) * ((N + cb - 1) / cb) != target) continue;
            double cost = (double) M * cs + (double) N * rs * (splitColumnsFirst ? 4 : 1);
            if (cost < bestCost) { bestCost = cost; best = new int[] {rb, cb}; }
        }
        if (best != null) return best;
        int rs = 1, cs = 1;
        while (rs * cs < target) {
            boolean rowsBigger = splitColumnsFirst ? cs >= maxCs : (double) M / rs >= (double) N / cs;
            if (rowsBigger && rs < maxRs) rs++;
            else if (cs < maxCs) cs++;
            else if (rs < maxRs) rs++;
            else break;
        }
        return new int[] {roundUp((M + rs - 1) / rs, MR), roundUp((N + cs - 1) / cs, NR)};
    }

    private static int roundUp(int x, int m) { return (x + m - 1) / m * m; }

    /** The block of n split into the fewest blocks of at most max (a multiple of unit), equal but for the last. */
    static int balanced(int n, int max, int unit) {
        int blocks = Math.max(1, (n + max - 1) / max);
        return Math.min(max, roundUp((n + blocks - 1) / blocks, unit));
    }

    /** C[i0..i1, j0..j1) over the full K, with this thread's packing buffers. */
    private static void tile(int i0, int i1, int j0, int j1, int K, float alpha, PackA pa, PackB pb, float beta,
                             float[] c, int cOff, int ldc, float[] rowBias, float[] colBias) {
        float[] tile = T_BUF.get();
        float[][] aHolder = A_BUF.get(), bHolder = B_BUF.get();
        // column and row blocks of at most NC / MC, balanced (1024 columns in 48-wide panels as 384 + 384 + 256, not 480 + 480 + 64)
        int ncb = balanced(j1 - j0, NC, NR), mcb = balanced(i1 - i0, MC, MR), mp = roundUp(mcb, MR);
        int blocks = (K + KC - 1) / KC, group = kGroup(blocks, roundUp(ncb, NR), mp);
        int aStride = mp * KC, bStride = roundUp(ncb, NR) * KC;
        float[] ap = grow(aHolder, group * aStride), bp = grow(bHolder, group * bStride);
        for (int jc = j0; jc < j1; jc += ncb) {
            int nc = Math.min(ncb, j1 - jc), panels = (nc + NR - 1) / NR;
            for (int g0 = 0; g0 < blocks; g0 += group) {
                int gn = Math.min(group, blocks - g0);
                for (int g = 0; g < gn; g++) {
                    int pc = (g0 + g) * KC;
                    pb.pack(pc, Math.min(KC, K - pc), jc, nc, bp, g * bStride);
                }
                for (int ic = i0; ic < i1; ic += mcb) {
                    int mc = Math.min(mcb, i1 - ic);
                    pa.packBlocks(ic, mc, g0 * KC, K, gn, ap, 0, aStride);
                    // The group's K blocks run back to back on each panel, so the panel's C rows (mc x NR) stay in L1
                    // between them instead of being read back from memory once per block. Each C element still gets
                    // its blocks' partial sums in order (block 0 stored, then each next added), whatever the grouping.
                    for (int q = 0; q < panels; q++) {
                        int j = q * NR, nr = Math.min(NR, nc - j);
                        for (int g = 0; g < gn; g++) {
                            int pc = (g0 + g) * KC, kc = Math.min(KC, K - pc);
                            boolean first = pc == 0;
                            int ao = g * aStride, bo = g * bStride + q * kc * NR;
                            // A whole tile with alpha 1 goes from the micro-kernel straight into C: stored on the first
                            // block when there is no bias or beta, added (acc + C, the operation apply() does) after it,
                            // C being in L1 here. A first block with one bias (a conv's per row, a linear's per column)
                            // sets the tile of C to the bias and adds to it: bias + acc, the sum apply() forms as acc + bias.
                            // Other first blocks and edge tiles go through the small accumulator tile and apply().
                            // (Writing every tile from the micro-kernel was 6% slower in whole runs before the K-block
                            // groups; with them the first-block stores were neutral under UseAVX=2 and U-Net 4.72-4.83 ->
                            // 4.29-4.40 s, VAE 8.93-9.01 -> 8.59-8.84 s at 512 bits, 2 pairs.)
                            boolean biasFirst = first && (rowBias != null || colBias != null);
                            boolean inKernel = alpha == 1f && nr == NR && (!first || (beta == 0f && (rowBias == null || colBias == null)));
                            for (int ir = 0; ir < mc; ir += MR) {
                                int mr = Math.min(MR, mc - ir);
                                int ci = cOff + (ic + ir) * ldc + jc + j;
                                if (inKernel && mr == MR) {
                                    if (biasFirst) fillBias(c, ci, ldc, rowBias, ic + ir, colBias, jc + j);
                                    micro(kc, ap, ao + ir * kc, bp, bo, c, ci, ldc, !first || biasFirst);
                                } else {
                                    micro(kc, ap, ao + ir * kc, bp, bo, tile, 0, NR, false);
                                    apply(tile, mr, nr, c, ci, ldc, alpha, beta, first, rowBias, ic + ir, colBias, jc + j);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Packed floats a tile may hold for a group of K blocks: B up to two full column blocks (KC x NC each), A up to four
     * full row blocks (MC x KC each: 384 KB with the defaults, so a group's A stays in a 512 KB L2 while every panel of
     * B sweeps it).
     */
    static final long B_GROUP_FLOATS = 2L * NC * KC, A_GROUP_FLOATS = 4L * MC * KC;

    /**
     * How many K blocks a tile packs and runs together (at least one): all of them where both packed operands fit
     * {@link #B_GROUP_FLOATS} and {@link #A_GROUP_FLOATS}. Measured with GemmDuel on the Xeon (family 6 model 167, 2
     * threads, ratio to OpenBLAS in one run, 2 pairs): linear 4096x320x2560 (two K blocks, 42 MB of C) 0.59-0.60 ->
     * 0.69-0.73 at 512 bits (under UseAVX=2 one pair 0.66 -> 0.79, the next 0.74 -> 0.72); sgemm 2048^3 (8 blocks, groups
     * of 4) 0.65-0.66 -> 0.71-0.73 under UseAVX=2, 0.66-0.68 -> 0.68-0.69 at 512 bits. Whole runs: U-Net step 5.0-5.2 ->
     * 4.8 s, VAE decode 9.5 -> 8.8-9.2 s at 512 bits, within the noise under UseAVX=2 and at 128 bits. The grouping
     * changes no result: the order of the additions into each C element is the same.
     */
    static int kGroup(int blocks, int ncPadded, int mcPadded) {
        long b = B_GROUP_FLOATS / ((long) ncPadded * KC), a = A_GROUP_FLOATS / ((long) mcPadded * KC);
        return (int) Math.max(1, Math.min(blocks, Math.min(a, b)));
    }

    private static float[] grow(float[][] holder, int need) {
        float[] buf = holder[0];
        if (buf == null || buf.length < need) holder[0] = buf = new float[need];
        return buf;
    }

    /** Sets a whole MR x NR tile of C at ci to its bias: rowBias[row + r] on row r, or colBias[col + j] in column j. */
    private static void fillBias(float[] c, int ci, int ldc, float[] rowBias, int row, float[] colBias, int col) {
        for (int r = 0; r < MR; r++)
            for (int v = 0; v < NR; v += L) {
                FloatVector b = rowBias != null ? FloatVector.broadcast(S, rowBias[row + r]) : FloatVector.fromArray(S, colBias, col + v);
                b.intoArray(c, ci + r * ldc + v);
            }
    }

    /**
     * Applies an MR x NR accumulator tile t (rows of NR) to the mr x nr corner of C at ci: on the first K block
     * C = alpha t + beta C + bias (beta 0: C not read), afterwards C += alpha t.
     */
    static void apply(float[] t, int mr, int nr, float[] c, int ci, int ldc, float alpha, float beta, boolean first,
                      float[] rowBias, int row, float[] colBias, int col) {
        if (nr == NR) {
            for (int r = 0; r < mr; r++)
                for (int v = 0; v < NR; v += L) {
                    FloatVector x = FloatVector.fromArray(S, t, r * NR + v);
                    int cij = ci + r * ldc + v;
                    if (alpha != 1f) x = x.mul(alpha);
                    if (!first) {
                        x = x.add(FloatVector.fromArray(S, c, cij));
                    } else {
                        if (beta != 0f) x = FloatVector.fromArray(S, c, cij).fma(FloatVector.broadcast(S, beta), x);
                        if (rowBias != null) x = x.add(rowBias[row + r]);
                        if (colBias != null) x = x.add(FloatVector.fromArray(S, colBias, col + v));
                    }
                    x.intoArray(c, cij);
                }
            return;
        }
        for (int r = 0; r < mr; r++)
            for (int jj = 0; jj < nr; jj++) {
                float v = t[r * NR + jj];
                if (alpha != 1f) v *= alpha;
                int cij = ci + r * ldc + jj;
                if (first) {
                    if (beta != 0f) v = Math.fma(c[cij], beta, v);
                    if (rowBias != null) v += rowBias[row + r];
                    if (colBias != null) v += colBias[col + jj];
                    c[cij] = v;
                } else {
                    c[cij] = v + c[cij];
                }
            }
    }

    private static final int KIND = kind();

    private static int kind() {
        for (int i = 0; i < KernelConfig.SHAPES.length; i++)
            if (KernelConfig.SHAPES[i][0] == MR && KernelConfig.SHAPES[i][1] * L == NR) return i;
        throw new IllegalStateException("no micro-kernel " + MR + "x" + NR / L);
    }

    /**
     * The MR x NR register-blocked micro-kernel (A: an MR-row panel, kc deep, k-interleaved: a[ao + k*MR + r]; B: an
     * NR-column panel, kc deep); stores the accumulators to rows of c at co + r*ldc, or when add, adds them (acc + c).
     * KIND is a constant, so C2 compiles this to a direct call of the one shape.
     */
    static void micro(int kc, float[] a, int ao, float[] b, int bo, float[] c, int co, int ldc, boolean add) {
        MicroKernels.run(KIND, kc, a, ao, b, bo, c, co, ldc, add);
    }

    /** Where row r of an A block packed kc deep starts, relative to the block: (r/MR)*MR*kc + r%MR; its depth k is MR on. */
    static int rowStart(int r, int kc) {
        return (r / MR) * MR * kc + r % MR;
    }

    // ---- packers for heap arrays ----

    /** A stored row-major (M x K, lda) or, when trans, K x M. */
    static PackA packA(float[] a, int aOff, int lda, boolean trans) {
        return (i0, mc, k0, kc, dst, off) -> {
            for (int r = 0; r < mc; r++) {
                int d = off + rowStart(r, kc);
                if (trans) {
                    int src = aOff + k0 * lda + i0 + r;
                    for (int k = 0; k < kc; k++) dst[d + k * MR] = a[src + k * lda];
                } else {
                    int src = aOff + (i0 + r) * lda + k0;
                    for (int k = 0; k < kc; k++) dst[d + k * MR] = a[src + k];
                }
            }
            zeroPadRows(mc, kc, dst, off);
        };
    }

    /** A given by a weight matrix's rows (row i, column k of w), converted while packing. */
    static PackA packA(Matrix w) {
        return new PackA() {
            @Override
            public void pack(int i0, int mc, int k0, int kc, float[] dst, int off) {
                packBlocks(i0, mc, k0, k0 + kc, 1, dst, off, 0);
            }

            @Override
            public void packBlocks(int i0, int mc, int k0, int kEnd, int blocks, float[] dst, int off, int stride) {
                int span = Math.min(kEnd, k0 + blocks * KC) - k0;
                float[] row = grow(W_ROWS.get(), span);
                for (int r = 0; r < mc; r++) {
                    w.readRow(i0 + r, k0, row, 0, span);
                    for (int g = 0; g < blocks; g++) {
                        int kc = Math.min(KC, span - g * KC), d = off + g * stride + rowStart(r, kc), s = g * KC;
                        for (int k = 0; k < kc; k++) dst[d + k * MR] = row[s + k];
                    }
                }
                for (int g = 0; g < blocks; g++) zeroPadRows(mc, Math.min(KC, span - g * KC), dst, off + g * stride);
            }
        };
    }

    /** Zeroes packed A rows mc up to the next multiple of MR (in the last panel of the block at dst[off]). */
    static void zeroPadRows(int mc, int kc, float[] dst, int off) {
        int padded = (mc + MR - 1) / MR * MR;
        for (int r = mc; r < padded; r++) {
            int d = off + rowStart(r, kc);
            for (int k = 0; k < kc; k++) dst[d + k * MR] = 0f;
        }
    }

    /** B stored row-major (K x N, ldb) or, when trans, N x K. */
    static PackB packB(float[] b, int bOff, int ldb, boolean trans) {
        return (k0, kc, j0, nc, dst, off) -> {
            for (int q = 0; q < nc; q += NR) {
                int nr = Math.min(NR, nc - q), base = off + (q / NR) * kc * NR;
                if (trans) {
                    for (int j = 0; j < nr; j++) {
                        int src = bOff + (j0 + q + j) * ldb + k0;
                        for (int k = 0; k < kc; k++) dst[base + k * NR + j] = b[src + k];
                    }
                    if (nr < NR)
                        for (int k = 0; k < kc; k++)
                            for (int j = nr; j < NR; j++) dst[base + k * NR + j] = 0f;
                } else if (nr == NR) {
                    // whole panels: NR / L vector copies per row (an arraycopy call per 24-32 floats cost more than the copy)
                    for (int k = 0; k < kc; k++) {
                        int src = bOff + (k0 + k) * ldb + j0 + q, d = base + k * NR;
                        for (int v = 0; v < NR; v += L) FloatVector.fromArray(S, b, src + v).intoArray(dst, d + v);
                    }
                } else {
                    for (int k = 0; k < kc; k++) {
                        int src = bOff + (k0 + k) * ldb + j0 + q, d = base + k * NR;
                        System.arraycopy(b, src, dst, d, nr);
                        for (int j = nr; j < NR; j++) dst[d + j] = 0f;
                    }
                }
            }
        };
    }

    /**
     * B = wᵀ for a weight matrix w (N x K): B(k, n) = w[n, k], converted from the mapped dtype while packing. Each panel's
     * NR weight rows are converted into a scratch block (row j at j*kc), then each of its depth rows gathered from the
     * block a vector at a time (lanes kc apart): stores run along the panel, where a scalar copy of each converted row
     * down its panel column stored to a new cache line every element.
     */
    static PackB packBTransposed(Matrix w) {
        return (k0, kc, j0, nc, dst, off) -> {
            float[] rows = grow(W_ROWS.get(), NR * kc);
            int[] idx = new int[NR];
            for (int j = 0; j < NR; j++) idx[j] = j * kc;
            for (int q = 0; q < nc; q += NR) {
                int nr = Math.min(NR, nc - q), base = off + (q / NR) * kc * NR;
                for (int j = 0; j < nr; j++) w.readRow(j0 + q + j, k0, rows, j * kc, kc);
                if (nr < NR) java.util.Arrays.fill(rows, nr * kc, NR * kc, 0f);
                for (int k = 0; k < kc; k++)
                    for (int v = 0; v < NR; v += L) FloatVector.fromArray(S, rows, k, idx, v).intoArray(dst, base + k * NR + v);
            }
        };
    }

    private static final ThreadLocal<float[][]> W_ROWS = ThreadLocal.withInitial(() -> new float[1][]);
}

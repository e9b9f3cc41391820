package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Multi-head scaled-dot-product attention. q is {@code [batch, lq, heads*headDim]}, k and v are
 * {@code [batch, lk, heads*headDim]} (token-major, as linear layers produce them), out is like q.
 *
 * <p>Flash-style: K and V of each head are packed once into GEMM panels; then for each (batch, head, tile of
 * BQ queries) the keys are visited in tiles of BK with an online softmax (running max and sum per query row),
 * so the lq x lk score matrix is never materialised. Both products (Q·Kᵀ on a tile and P·V) run on the GEMM
 * micro-kernel. Exponentials use {@link VMath#exp}, so results are identical at any thread count.
 */
public final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> S = KernelConfig.SPECIES;
    private static final int L = S.length();
    private static final int MR = GemmKernel.MR, NR = GemmKernel.NR;
    /** Query and key tile sizes: about 64 x 192 on every ISA (multiples of the micro-kernel's MR and NR). */
    private static final int BQ = KernelConfig.ATTENTION_QUERIES, BK = KernelConfig.ATTENTION_KEYS;

    /** Per-thread tile buffers, reused while the head size and padded key count stay the same. */
    private static final ThreadLocal<Tile> TILES = new ThreadLocal<>();

    /** Causal masks key j for query i when j > i (top-left aligned, as torch's is_causal). */
    public static void forward(float[] q, float[] k, float[] v, int batch, int heads, int lq, int lk, int headDim,
                               boolean causal, float scale, float[] out) {
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
            int d = headDim, dPad = (d + NR - 1) / NR * NR, lkPad = (lk + NR - 1) / NR * NR;
            long kSize = (long) lkPad * d, vSize = (long) lkPad * dPad;
            if (kSize * batch * heads > Integer.MAX_VALUE - 16 || vSize * batch * heads > Integer.MAX_VALUE - 16)
                throw new IllegalArgumentException("attention: key/value too large to pack");
            float[] kAll = new float[(int) (kSize * batch * heads)], vAll = new float[(int) (vSize * batch * heads)];
            Parallel.forTasks(batch * heads, (t0, t1) -> {
                for (int bh = t0; bh < t1; bh++)
                    packHead(k, v, bh / heads, bh % heads, lk, lkPad, d, dPad, dm, kAll, (int) (bh * kSize), vAll, (int) (bh * vSize));
            });
            int qTiles = (lq + BQ - 1) / BQ;
            Parallel.forTasks(batch * heads * qTiles, (t0, t1) -> {
                Tile tile = TILES.get();
                if (tile == null || tile.d != d || tile.lkPad != lkPad) TILES.set(tile = new Tile(d, dPad, lkPad));
                for (int t = t0; t < t1; t++) {
                    int qt = t % qTiles, bh = t / qTiles, h = bh % heads, b = bh / heads;
                    tile.run(q, kAll, (int) (bh * kSize), vAll, (int) (bh * vSize), b, h, qt * BQ, Math.min(BQ, lq - qt * BQ),
                            lq, lk, dm, causal, scale, out);
                }
            });
        } finally {
            Profiler.stop(Profiler.Op.ATTENTION, prof0, 4L * batch * heads * lq * lk * headDim);
        }
    }

    /**
     * Packs one head: Kᵀ as NR-key panels [panel][t][j] and V as NR-wide column panels over the head dimension
     * [c][j][t] (zero padded to lkPad keys and dPad columns).
     */
    private static void packHead(float[] k, float[] v, int b, int h, int lk, int lkPad, int d, int dPad, int dm,
                                 float[] kp, int ko, float[] vp, int vo) {
        for (int j = 0; j < lk; j++) {
            int src = (b * lk + j) * dm + h * d;
            int base = ko + (j / NR) * NR * d + j % NR;
            for (int t = 0; t < d; t++) kp[base + t * NR] = k[src + t];
            for (int c = 0; c < dPad; c += NR)
                System.arraycopy(v, src + c, vp, vo + c * lkPad + j * NR, Math.min(NR, d - c));
        }
    }

    /** Per-task buffers and the tile loop. */
    private static final class Tile {
        final int d, dPad, lkPad;
        final float[] qp, s, o, m, l, lanes = new float[L], acc = new float[MR * NR];

        Tile(int d, int dPad, int lkPad) {
            this.d = d;
            this.dPad = dPad;
            this.lkPad = lkPad;
            qp = new float[BQ * d];
            s = new float[BQ * BK];
            o = new float[BQ * dPad];
            m = new float[BQ];
            l = new float[BQ];
        }

        void run(float[] q, float[] kp, int ko, float[] vp, int vo, int b, int h, int i0, int rows, int lq, int lk, int dm,
                 boolean causal, float scale, float[] out) {
            int rowsPad = (rows + MR - 1) / MR * MR;
            for (int i = 0; i < rows; i++) System.arraycopy(q, (b * lq + i0 + i) * dm + h * d, qp, i * d, d);
            Arrays.fill(qp, rows * d, rowsPad * d, 0f); // padded query rows score 0, so their P rows stay 0
            Arrays.fill(o, 0, rowsPad * dPad, 0f);
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            Arrays.fill(l, 0f);
            int kEnd = causal ? Math.min(lk, i0 + rows) : lk;
            for (int j0 = 0; j0 < kEnd; j0 += BK) {
                int bk = Math.min(BK, kEnd - j0), bkPad = (bk + NR - 1) / NR * NR;
                for (int p = 0; p < rowsPad; p += MR)
                    for (int qq = 0; qq < bkPad; qq += NR)
                    {
                        GemmKernel.micro(d, qp, p * d, d, kp, ko + (j0 + qq) * d, acc, 0, NR, false);
                        GemmKernel.apply(acc, MR, NR, s, p * bkPad + qq, bkPad, scale, 0f, true, null, 0, null, 0);
                    }
                softmaxStep(rows, i0, j0, bk, bkPad, causal);
                for (int p = 0; p < rowsPad; p += MR)
                    for (int c = 0; c < dPad; c += NR)
                    {
                        GemmKernel.micro(bkPad, s, p * bkPad, bkPad, vp, vo + c * lkPad + j0 * NR, o, p * dPad + c, dPad, true);
                    }
            }
            for (int i = 0; i < rows; i++) {
                float inv = l[i] > 0f ? 1f / l[i] : 0f;
                int dst = (b * lq + i0 + i) * dm + h * d;
                int t = 0;
                for (int ub = S.loopBound(d); t < ub; t += L)
                    FloatVector.fromArray(S, o, i * dPad + t).mul(inv).intoArray(out, dst + t);
                for (; t < d; t++) out[dst + t] = o[i * dPad + t] * inv;
            }
        }

        /** Online softmax on the score tile: updates m and l, rescales O, leaves P in s (zero beyond the valid keys). */
        private void softmaxStep(int rows, int i0, int j0, int bk, int bkPad, boolean causal) {
            for (int i = 0; i < rows; i++) {
                int so = i * bkPad;
                int valid = causal ? Math.max(0, Math.min(bk, i0 + i - j0 + 1)) : bk;
                if (valid == 0) {
                    Arrays.fill(s, so, so + bkPad, 0f);
                    continue;
                }
                FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
                int j = 0;
                for (int ub = S.loopBound(valid); j < ub; j += L) vmax = vmax.max(FloatVector.fromArray(S, s, so + j));
                float mt = vmax.reduceLanes(VectorOperators.MAX);
                for (; j < valid; j++) mt = Math.max(mt, s[so + j]);
                float mOld = m[i], mNew = Math.max(mOld, mt);
                float corr = mOld == Float.NEGATIVE_INFINITY ? 0f : VMath.exp(mOld - mNew);
                m[i] = mNew;
                FloatVector vm = FloatVector.broadcast(S, mNew), vsum = FloatVector.zero(S);
                j = 0;
                for (int ub = S.loopBound(valid); j < ub; j += L) {
                    FloatVector e = VMath.exp(FloatVector.fromArray(S, s, so + j).sub(vm));
                    vsum = vsum.add(e);
                    e.intoArray(s, so + j);
                }
                float sum = VMath.sumLanes(vsum, lanes);
                for (; j < valid; j++) {
                    float e = VMath.exp(s[so + j] - mNew);
                    s[so + j] = e;
                    sum += e;
                }
                for (; j < bkPad; j++) s[so + j] = 0f;
                l[i] = l[i] * corr + sum;
                if (corr != 1f) {
                    int oo = i * dPad;
                    for (int t = 0; t < dPad; t += L) FloatVector.fromArray(S, o, oo + t).mul(corr).intoArray(o, oo + t);
                }
            }
        }
    }
}

package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * Multi-head scaled-dot-product attention. q is {@code [batch, lq, heads*headDim]}, k and v are
 * {@code [batch, lk, heads*headDim]} (token-major, as linear layers produce them), out is like q.
 *
 * <p>Flash-style: for each (batch, head, tile of BQ queries) the keys are visited in tiles of BK with an online
 * softmax (running max and sum per query row), so the lq x lk score matrix is never materialised. Both products
 * (Q·Kᵀ on a tile and P·V) run on the GEMM micro-kernel over panels packed per tile.
 */
public final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int MR = GemmKernel.MR, NR = GemmKernel.NR;
    private static final int BQ = MR * 16;
    private static final int BK = NR * 4;

    /** Causal masks key j for query i when j > i (top-left aligned, as torch's is_causal). */
    public static void forward(float[] q, float[] k, float[] v, int batch, int heads, int lq, int lk, int headDim,
                               boolean causal, float scale, float[] out) {
        if (batch <= 0 || heads <= 0 || lq <= 0) return;
        int dm = heads * headDim;
        if (q.length < (long) batch * lq * dm || out.length < (long) batch * lq * dm || k.length < (long) batch * lk * dm || v.length < (long) batch * lk * dm)
            throw new IllegalArgumentException("attention: arrays smaller than batch*len*heads*headDim");
        if (lk <= 0 || headDim <= 0) {
            for (int b = 0; b < batch; b++) Arrays.fill(out, b * lq * dm, (b + 1) * lq * dm, 0f);
            return;
        }
        int qTiles = (lq + BQ - 1) / BQ;
        Parallel.forTasks(batch * heads * qTiles, (t0, t1) -> {
            Tile tile = new Tile(headDim);
            for (int t = t0; t < t1; t++) {
                int qt = t % qTiles, bh = t / qTiles, h = bh % heads, b = bh / heads;
                tile.run(q, k, v, b, h, qt * BQ, Math.min(BQ, lq - qt * BQ), lq, lk, dm, causal, scale, out);
            }
        });
    }

    /** Per-task buffers and the tile loop. */
    private static final class Tile {
        final int d, dPad;
        final float[] qp, kp, vp, s, pp, o, m, l, lanes = new float[L];

        Tile(int d) {
            this.d = d;
            this.dPad = (d + NR - 1) / NR * NR;
            qp = new float[BQ * d];
            kp = new float[d * BK];
            vp = new float[BK * dPad];
            s = new float[BQ * BK];
            pp = new float[BQ * BK];
            o = new float[BQ * dPad];
            m = new float[BQ];
            l = new float[BQ];
        }

        void run(float[] q, float[] k, float[] v, int b, int h, int i0, int rows, int lq, int lk, int dm,
                 boolean causal, float scale, float[] out) {
            int rowsPad = (rows + MR - 1) / MR * MR;
            // pack Q rows into MR-row panels [p][t][r]
            for (int p = 0; p < rowsPad; p += MR)
                for (int r = 0; r < MR; r++) {
                    int i = p + r;
                    if (i < rows) {
                        int src = (b * lq + i0 + i) * dm + h * d;
                        for (int t = 0; t < d; t++) qp[p * d + t * MR + r] = q[src + t];
                    } else {
                        for (int t = 0; t < d; t++) qp[p * d + t * MR + r] = 0f;
                    }
                }
            Arrays.fill(o, 0, rowsPad * dPad, 0f);
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            Arrays.fill(l, 0f);
            int kEnd = causal ? Math.min(lk, i0 + rows) : lk;
            for (int j0 = 0; j0 < kEnd; j0 += BK) {
                int bk = Math.min(BK, kEnd - j0), bkPad = (bk + NR - 1) / NR * NR;
                packKV(k, v, b, h, j0, bk, bkPad, lk, dm);
                // S = scale * Q Kᵀ on the tile
                for (int p = 0; p < rowsPad; p += MR)
                    for (int qq = 0; qq < bkPad; qq += NR)
                        GemmKernel.micro(d, qp, p * d, kp, qq * d, s, p * bkPad + qq, bkPad, scale, 0f, true, null, 0, null, 0);
                softmaxStep(rows, rowsPad, i0, j0, bk, bkPad, causal);
                // O += P V
                for (int p = 0; p < rowsPad; p += MR)
                    for (int c = 0; c < dPad; c += NR)
                        GemmKernel.micro(bkPad, pp, p * bkPad, vp, c * bkPad, o, p * dPad + c, dPad, 1f, 0f, false, null, 0, null, 0);
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

        /** Packs K tile as NR-column panels of Kᵀ ([q][t][j]) and V tile as NR-column panels over d ([c][j][t]). */
        private void packKV(float[] k, float[] v, int b, int h, int j0, int bk, int bkPad, int lk, int dm) {
            for (int qq = 0; qq < bkPad; qq += NR)
                for (int j = 0; j < NR; j++) {
                    int jj = qq + j, base = qq * d;
                    if (jj < bk) {
                        int src = (b * lk + j0 + jj) * dm + h * d;
                        for (int t = 0; t < d; t++) kp[base + t * NR + j] = k[src + t];
                    } else {
                        for (int t = 0; t < d; t++) kp[base + t * NR + j] = 0f;
                    }
                }
            for (int jj = 0; jj < bkPad; jj++) {
                if (jj < bk) {
                    int src = (b * lk + j0 + jj) * dm + h * d;
                    for (int c = 0; c < dPad; c += NR) {
                        int dst = c * bkPad + jj * NR, n = Math.min(NR, d - c);
                        System.arraycopy(v, src + c, vp, dst, n);
                        for (int t = n; t < NR; t++) vp[dst + t] = 0f;
                    }
                } else {
                    for (int c = 0; c < dPad; c += NR) Arrays.fill(vp, c * bkPad + jj * NR, c * bkPad + jj * NR + NR, 0f);
                }
            }
        }

        /** Online softmax on the score tile: updates m and l, rescales O, writes P packed as MR-row panels. */
        private void softmaxStep(int rows, int rowsPad, int i0, int j0, int bk, int bkPad, boolean causal) {
            for (int i = 0; i < rowsPad; i++) {
                int so = i * bkPad;
                int pBase = (i / MR) * MR * bkPad, r = i % MR;
                int valid = i >= rows ? 0 : causal ? Math.max(0, Math.min(bk, i0 + i - j0 + 1)) : bk;
                if (valid == 0) {
                    for (int j = 0; j < bkPad; j++) pp[pBase + j * MR + r] = 0f;
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
                    FloatVector e = FloatVector.fromArray(S, s, so + j).sub(vm);
                    e = VMath.exp(e);
                    vsum = vsum.add(e);
                    e.intoArray(s, so + j);
                }
                float sum = VMath.sumLanes(vsum, lanes);
                for (; j < valid; j++) {
                    float e = VMath.exp(s[so + j] - mNew);
                    s[so + j] = e;
                    sum += e;
                }
                l[i] = l[i] * corr + sum;
                for (j = 0; j < valid; j++) pp[pBase + j * MR + r] = s[so + j];
                for (; j < bkPad; j++) pp[pBase + j * MR + r] = 0f;
                if (corr != 1f) {
                    int oo = i * dPad;
                    for (int t = 0; t < dPad; t += L) FloatVector.fromArray(S, o, oo + t).mul(corr).intoArray(o, oo + t);
                }
            }
        }
    }
}

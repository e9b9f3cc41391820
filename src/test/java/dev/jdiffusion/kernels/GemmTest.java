package dev.jdiffusion.kernels;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Gemm.sgemm (4 transpose variants, alpha/beta, offsets, leading dimensions) and Gemm.linear on heap and mapped weights. */
class GemmTest {

    private static void runSgemm(Random r, boolean ta, boolean tb, int M, int N, int K, float alpha, float beta, int pad) {
        int lda = (ta ? M : K) + r.nextInt(pad + 1), ldb = (tb ? K : N) + r.nextInt(pad + 1), ldc = N + r.nextInt(pad + 1);
        int aOff = r.nextInt(pad + 1), bOff = r.nextInt(pad + 1), cOff = r.nextInt(pad + 1);
        float[] a = Ref.rand(r, aOff + lda * (ta ? K : M));
        float[] b = Ref.rand(r, bOff + ldb * (tb ? N : K));
        float[] c = Ref.rand(r, cOff + ldc * M + 3);
        if (beta == 0f) for (int i = 0; i < c.length; i++) if (r.nextInt(7) == 0) c[i] = Float.NaN; // beta == 0 must not read C
        float[] c0 = c.clone();
        double[][] want = Ref.sgemm(ta, tb, M, N, K, alpha, a, aOff, lda, b, bOff, ldb, beta, c0, cOff, ldc);
        Gemm.sgemm(ta, tb, M, N, K, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        String label = "sgemm ta=" + ta + " tb=" + tb + " M=" + M + " N=" + N + " K=" + K + " alpha=" + alpha + " beta=" + beta;
        double[] tol = Ref.dotTol(want[1], K);
        for (int i = 0; i < M; i++)
            Ref.check(label + " row " + i, Arrays.copyOfRange(want[0], i * N, (i + 1) * N), Arrays.copyOfRange(tol, i * N, (i + 1) * N), c, cOff + i * ldc);
        // outside C's M x N window nothing changes
        for (int i = 0; i < c.length; i++) {
            int rel = i - cOff;
            boolean inside = rel >= 0 && rel / ldc < M && rel % ldc < N;
            if (!inside) assertEquals(Float.floatToRawIntBits(c0[i]), Float.floatToRawIntBits(c[i]), label + ": wrote outside C at " + i);
        }
    }

    @Test
    void sgemmRandomShapesAllTransposes() {
        Random r = new Random(1);
        float[][] ab = {{1f, 0f}, {0.5f, 1f}, {-2f, 0.25f}, {1f, 1f}};
        for (int it = 0; it < 60; it++) {
            int M = 1 + r.nextInt(40), N = 1 + r.nextInt(70), K = 1 + r.nextInt(50);
            float[] p = ab[it % ab.length];
            runSgemm(r, (it & 1) != 0, (it & 2) != 0, M, N, K, p[0], p[1], 5);
        }
    }

    @Test
    void sgemmShapesCrossingBlockSizes() {
        Random r = new Random(2);
        int[][] shapes = {{1, 1, 1}, {1, 300, 700}, {300, 1, 513}, {157, 211, 601}, {97, 1031, 67}, {263, 37, 1100}, {13, 2100, 40}};
        int v = 0;
        for (int[] s : shapes)
            for (int t = 0; t < 4; t++, v++) runSgemm(r, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], v % 3 == 0 ? 1f : 0.75f, v % 2 == 0 ? 0f : -0.5f, 3);
    }

    @Test
    void sgemmDegenerate() {
        float[] c = {1, 2, 3, 4};
        Gemm.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, 0.5f, c, 0, 2);
        assertEquals(0.5f, c[0]);
        assertEquals(2f, c[3]);
        Gemm.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, 0f, c, 0, 2);
        assertEquals(0f, c[1]);
    }

    // ---- linear ----

    static float roundF16(float v) { return Float.float16ToFloat(Float.floatToFloat16(v)); }

    static float roundBF16(float v) {
        int bits = Float.floatToRawIntBits(v);
        bits += 0x7fff + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xffff0000);
    }

    /** A TensorView of dtype over a fresh native segment, holding w (already representable in dtype). */
    static TensorView view(DType dtype, float[] w, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate((long) w.length * dtype.bytes(), 8);
        ValueLayout.OfShort s16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < w.length; i++)
            switch (dtype) {
                case F32 -> seg.set(f32, 4L * i, w[i]);
                case F16 -> seg.set(s16, 2L * i, Float.floatToFloat16(w[i]));
                case BF16 -> seg.set(s16, 2L * i, (short) (Float.floatToRawIntBits(w[i]) >>> 16));
                default -> throw new AssertionError(dtype);
            }
        return new TensorView("test.weight", "memory", dtype, new long[] {rows, cols}, seg);
    }

    static Matrix matrix(String kind, Random r, int out, int in, float[] wOut) {
        float[] w = Ref.rand(r, out * in);
        for (int i = 0; i < w.length; i++)
            w[i] = switch (kind) {
                case "F16" -> roundF16(w[i]);
                case "BF16" -> roundBF16(w[i]);
                default -> w[i];
            };
        System.arraycopy(w, 0, wOut, 0, w.length);
        return switch (kind) {
            case "heap" -> Matrix.of(w, out, in);
            case "F32" -> Matrix.of(view(DType.F32, w, out, in));
            case "F16" -> Matrix.of(view(DType.F16, w, out, in));
            case "BF16" -> Matrix.of(view(DType.BF16, w, out, in));
            default -> throw new AssertionError(kind);
        };
    }

    @Test
    void linearAllBackings() {
        Random r = new Random(3);
        int[][] shapes = {{1, 1, 1}, {1, 33, 17}, {5, 64, 48}, {77, 40, 19}, {130, 300, 129}, {2, 1280, 320}, {64, 37, 600}, {3, 70, 33}, {4, 9, 100}};
        for (String kind : new String[] {"heap", "F32", "F16", "BF16"})
            for (int[] s : shapes)
                for (boolean withBias : new boolean[] {false, true}) {
                    int rows = s[0], out = s[1], in = s[2];
                    float[] w = new float[out * in];
                    Matrix m = matrix(kind, r, out, in, w);
                    float[] bias = withBias ? Ref.rand(r, out) : null;
                    int xOff = r.nextInt(5), yOff = r.nextInt(5);
                    float[] x = Ref.rand(r, xOff + rows * in);
                    float[] y = new float[yOff + rows * out + 2];
                    Arrays.fill(y, 42f);
                    float[] xs = Arrays.copyOfRange(x, xOff, xOff + rows * in);
                    double[][] want = Ref.linear(xs, rows, w, out, in, bias);
                    Gemm.linear(x, xOff, rows, m, bias, y, yOff);
                    Ref.check("linear " + kind + " " + Arrays.toString(s) + " bias=" + withBias, want[0], Ref.dotTol(want[1], in), y, yOff);
                    for (int i = 0; i < yOff; i++) assertEquals(42f, y[i]);
                    assertEquals(42f, y[y.length - 1]);
                }
    }
    /**
     * C = A B (row-major M x K and K x N) in the GEMM's documented order: per KC block one FMA chain over k from zero;
     * on the first block + row bias + column bias (each when not null), after it + C.
     */
    private static float[] documentedOrder(int M, int N, int K, float[] a, float[] b, float[] rowBias, float[] colBias) {
        float[] want = new float[M * N];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float c = 0f;
                for (int k0 = 0; k0 < K; k0 += GemmKernel.KC) {
                    float t = 0f;
                    for (int k = k0; k < Math.min(K, k0 + GemmKernel.KC); k++) t = Math.fma(b[k * N + j], a[i * K + k], t);
                    if (k0 > 0) {
                        c = t + c;
                    } else {
                        c = t;
                        if (rowBias != null) c += rowBias[i];
                        if (colBias != null) c += colBias[j];
                    }
                }
                want[i * N + j] = c;
            }
        return want;
    }

    /**
     * Whole and edge tiles sum in the documented order, bit for bit: per KC block one FMA chain over k from zero, then
     * on the first block + row bias + column bias, after it + C.
     */
    @Test
    void wholeTilesAndEdgeTilesSumInTheSameOrder() {
        Random r = new Random(41);
        int M = 3 * GemmKernel.MR + 1, N = 2 * GemmKernel.NR + 3, KC = GemmKernel.KC;
        // a last block of 37, of exactly KC / 2 and one more, and a single block: each block sums from zero, then adds to C
        for (int K : new int[] {2 * KC + 37, KC + KC / 2, KC + KC / 2 + 1, KC})
        for (int bias = 0; bias < 4; bias++) {   // none, per row (whole tiles start from it), per column (the same), both
            float[] a = Ref.rand(r, M * K), b = Ref.rand(r, K * N);
            float[] rowBias = (bias & 1) != 0 ? Ref.rand(r, M) : null, colBias = (bias & 2) != 0 ? Ref.rand(r, N) : null;
            float[] want = documentedOrder(M, N, K, a, b, rowBias, colBias), got = new float[M * N];
            GemmKernel.gemm(M, N, K, 1f, GemmKernel.packA(a, 0, K, false), GemmKernel.packB(b, 0, N, false), 0f, got, 0, N,
                    rowBias, colBias);
            assertArrayEquals(want, got, "K " + K + ", bias kind " + bias);
        }
    }

    /**
     * A weight packed from its mapped rows a group of K blocks at a time ({@link GemmKernel.PackA#packBlocks}) gives the
     * panels the heap packer gives for the same values: the same bits, for one block, several, and a partial last one.
     */
    @Test
    void mappedWeightRowsPackLikeTheHeapCopy() {
        Random r = new Random(47);
        int KC = GemmKernel.KC, M = 5 * GemmKernel.MR + 2, N = GemmKernel.NR + 3;
        for (String kind : new String[] {"F16", "BF16", "F32"})
            for (int K : new int[] {KC - 3, KC + 5, 2 * KC + 37, 5 * KC + 3}) {
                float[] w = new float[M * K], b = Ref.rand(r, K * N), bias = Ref.rand(r, M);
                Matrix m = matrix(kind, r, M, K, w);
                float[] want = new float[M * N], got = new float[M * N];
                GemmKernel.gemm(M, N, K, 1f, GemmKernel.packA(w, 0, K, false), GemmKernel.packB(b, 0, N, false), 0f, want, 0, N, bias, null);
                GemmKernel.gemm(M, N, K, 1f, GemmKernel.packA(m), GemmKernel.packB(b, 0, N, false), 0f, got, 0, N, bias, null);
                assertArrayEquals(want, got, kind + " K " + K);
            }
    }

    /**
     * K blocks packed and run in groups ({@link GemmKernel#kGroup}): with one thread a tile spans all NC + 5 columns, so
     * the groups are smaller than the block count and a last group is partial; the result is the documented order bit
     * for bit, and the same on 1 and 3 threads (other tiles, other groups).
     */
    @Test
    void groupedKBlocksSumInTheDocumentedOrder() {
        int KC = GemmKernel.KC, M = 2 * GemmKernel.MR + 1, N = GemmKernel.NC + 5, K = 4 * KC + 19;
        int ncPadded = (GemmKernel.balanced(N, GemmKernel.NC, GemmKernel.NR) + GemmKernel.NR - 1) / GemmKernel.NR * GemmKernel.NR;
        int group = GemmKernel.kGroup(5, ncPadded, (M + GemmKernel.MR - 1) / GemmKernel.MR * GemmKernel.MR);
        assertTrue(group > 1 && 5 % group != 0, "the shape should give several groups, the last partial: group " + group);
        Random r = new Random(43);
        float[] a = Ref.rand(r, M * K), b = Ref.rand(r, K * N), rowBias = Ref.rand(r, M);
        float[] want = documentedOrder(M, N, K, a, b, rowBias, null);
        for (int threads : new int[] {1, 3})
            try (var lease = Parallel.lease(threads)) {
                float[] got = new float[M * N];
                lease.call(() -> {
                    GemmKernel.gemm(M, N, K, 1f, GemmKernel.packA(a, 0, K, false), GemmKernel.packB(b, 0, N, false), 0f, got, 0, N,
                            rowBias, null);
                    return null;
                });
                assertArrayEquals(want, got, threads + " threads");
            }
    }

    /** Row and column blocks: the fewest of at most the limit, unit multiples, balanced. */
    @Test
    void blocksAreBalanced() {
        assertEquals(384, GemmKernel.balanced(1024, 480, 48));
        assertEquals(480, GemmKernel.balanced(480, 480, 48));
        assertEquals(96, GemmKernel.balanced(96, 96, 4));
        assertEquals(64, GemmKernel.balanced(128, 96, 4));
        assertEquals(12, GemmKernel.balanced(10, 96, 4));
    }

    @Test
    void linearRowsDoNotDependOnTheRowCount() {
        Random r = new Random(31);
        for (String kind : new String[] {"heap", "F16"}) {
            int in = 600, out = 37;   // K over two KC blocks, out not a multiple of 8
            Matrix m = matrix(kind, r, out, in, new float[out * in]);
            float[] x = Ref.rand(r, 9 * in), bias = Ref.rand(r, out);
            float[] all = new float[9 * out];
            Gemm.linear(x, 0, 9, m, bias, all, 0);   // packed GEMM
            for (int rows = 1; rows <= 4; rows++) {   // matrix-vector path up to FewRows.MAX_ROWS, then the GEMM
                float[] few = new float[rows * out];
                Gemm.linear(x, in, rows, m, bias, few, 0);
                assertArrayEquals(Arrays.copyOfRange(all, out, out + rows * out), few, kind + " rows=" + rows);
            }
        }
    }

    /** The C-tile grid: exactly the task target where a factor pair fits (no thread idles for the last tile), near-square tiles. */
    @Test
    void gridSplitsIntoExactlyTheTargetTiles() {
        int mr = GemmKernel.MR, nr = GemmKernel.NR;
        for (int target : new int[] {2, 4, 6, 8}) {
            int[] g = GemmKernel.grid(2048, 2048, target, false);
            int tiles = ((2048 + g[0] - 1) / g[0]) * ((2048 + g[1] - 1) / g[1]);
            assertEquals(target, tiles, "2048 x 2048 split for " + target + " tasks into " + g[0] + " x " + g[1] + " blocks");
            assertEquals(0, g[0] % mr);
            assertEquals(0, g[1] % nr);
        }
        int[] sq = GemmKernel.grid(2048, 2048, 4, false);
        assertEquals((1024 + mr - 1) / mr * mr, sq[0], "4 tiles of a square matrix are 2 x 2 (least packing)");
        // a linear layer (4096 rows x 320 outputs): 320 / 8 columns is not a multiple of NR, so not 1 x 8
        int[] lin = GemmKernel.grid(4096, 320, 8, true);
        assertEquals(8, ((4096 + lin[0] - 1) / lin[0]) * ((320 + lin[1] - 1) / lin[1]), "linear 4096 x 320: " + lin[0] + " x " + lin[1]);
        // the pair is judged after rounding to MR / NR: 77 columns cannot make 4 column tiles of NR multiples
        for (int m : new int[] {320, 1024, 4096}) {
            int[] g = GemmKernel.grid(m, 77, 8, false);
            int tiles = ((m + g[0] - 1) / g[0]) * ((77 + g[1] - 1) / g[1]);
            assertEquals(8, tiles, m + " x 77 split into " + g[0] + " x " + g[1] + " blocks");
        }
        // a matrix too narrow for the pair falls back to a grid of at least the target
        int[] thin = GemmKernel.grid(mr * 8, nr, 8, false);
        assertEquals(mr * 8, thin[0]);
        assertEquals(nr, thin[1]);
    }

    @Test
    void taskTargetIsAMultipleOfTheThreads() {
        int threads = Parallel.threads();
        for (double flops = 4e6; flops < 1e11; flops *= 1.7) {
            int t = GemmKernel.taskTarget(flops);
            assertEquals(true, t >= 1 && t <= Math.max(1, 4 * threads), "target " + t);
            if (t >= threads) assertEquals(0, t % threads, "target " + t + " for " + threads + " threads");
        }
    }
}

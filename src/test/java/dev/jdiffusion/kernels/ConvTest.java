package dev.jdiffusion.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Conv2d against a direct 7-loop reference: 1x1 and 3x3, stride 1 and 2, symmetric/asymmetric padding, bias. */
class ConvTest {

    private static void run(Random r, String kind, int n, int cin, int cout, int h, int w, int k, int stride,
                            int pt, int pl, int pb, int pr, boolean bias) {
        float[] wt = new float[cout * cin * k * k];
        Matrix m = GemmTest.matrix(kind, r, cout, cin * k * k, wt);
        float[] x = Ref.rand(r, n * cin * h * w);
        float[] b = bias ? Ref.rand(r, cout) : null;
        int oh = Conv2d.outSize(h, k, stride, pt, pb), ow = Conv2d.outSize(w, k, stride, pl, pr);
        float[] y = new float[n * cout * oh * ow];
        double[][] want = Ref.conv2d(x, n, cin, h, w, wt, cout, k, k, b, stride, pt, pl, pb, pr);
        if (pt == pl && pl == pb && pb == pr) Conv2d.forward(x, n, cin, h, w, m, k, k, b, stride, pt, y);
        else Conv2d.forward(x, n, cin, h, w, m, k, k, b, stride, pt, pl, pb, pr, y);
        Ref.check("conv " + kind + " n=" + n + " cin=" + cin + " cout=" + cout + " " + h + "x" + w + " k=" + k + " s=" + stride
                + " pad=" + pt + "," + pl + "," + pb + "," + pr + " bias=" + bias, want[0], Ref.dotTol(want[1], cin * k * k), y, 0);
    }

    /**
     * The im2col matrix packed once for all row tiles ({@link Conv2d#packedOnce}) gives the GEMM the panels the
     * streaming packer does: the same bits, on tiles that start at any column (two and three threads, odd sizes).
     */
    @Test
    void im2colPackedOnceEqualsStreamed() {
        Random r = new Random(6);
        int cin = 32, cout = 21 * GemmKernel.MR + 2, h = 12, w = 2 * GemmKernel.NR / 3 + 1, K = cin * 9, hw = h * w;   // two K blocks, several tiles
        float[] x = Ref.rand(r, cin * h * w), a = Ref.rand(r, cout * K);
        GemmKernel.PackB streamed = Conv2d.im2colPacker(x, 0, h, w, 3, 3, 1, 1, 1, w);
        for (int threads : new int[] {2, 3})
            try (var lease = Parallel.lease(threads)) {
                float[] want = new float[cout * hw], got = new float[cout * hw];
                GemmKernel.gemm(cout, hw, K, 1f, GemmKernel.packA(a, 0, K, false), streamed, 0f, want, 0, hw, null, null);
                GemmKernel.gemm(cout, hw, K, 1f, GemmKernel.packA(a, 0, K, false), Conv2d.packedOnce(streamed, K, hw, new float[(hw + GemmKernel.NR - 1) / GemmKernel.NR * GemmKernel.NR * K]), 0f, got, 0, hw, null, null);
                org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, threads + " threads");
            }
    }

    @Test
    void randomShapes() {
        Random r = new Random(4);
        String[] kinds = {"heap", "F32", "F16", "BF16"};
        for (int it = 0; it < 40; it++) {
            int k = it % 2 == 0 ? 3 : 1;
            int stride = (it / 2) % 2 == 0 ? 1 : 2;
            int pad = k == 3 ? 1 : 0;
            boolean asym = it % 5 == 4;
            int n = 1 + r.nextInt(2), cin = 1 + r.nextInt(20), cout = 1 + r.nextInt(40), h = 1 + r.nextInt(13), w = 1 + r.nextInt(19);
            if (k == 3 && stride == 2 && asym) run(r, kinds[it % 4], n, cin, cout, Math.max(h, 3), Math.max(w, 3), 3, 2, 0, 0, 1, 1, it % 3 != 0);
            else if (asym) run(r, kinds[it % 4], n, cin, cout, h, w, k, stride, 0, 1, 1, 0, it % 3 != 0);
            else run(r, kinds[it % 4], n, cin, cout, h, w, k, stride, pad, pad, pad, pad, it % 3 != 0);
        }
    }

    @Test
    void largerThanBlocks() {
        Random r = new Random(5);
        run(r, "F16", 1, 40, 70, 24, 21, 3, 1, 1, 1, 1, 1, true);   // K = 360 > KC
        run(r, "heap", 1, 64, 33, 17, 16, 3, 2, 0, 0, 1, 1, true);  // VAE downsample padding
        run(r, "BF16", 2, 130, 20, 9, 9, 1, 1, 0, 0, 0, 0, false);
    }

    @Test
    void rejectsWrongWeightShape() {
        Matrix m = Matrix.of(new float[6], 2, 3);
        assertThrows(IllegalArgumentException.class, () -> Conv2d.forward(new float[9], 1, 1, 3, 3, m, 3, 3, null, 1, 1, new float[18]));
        assertEquals(3, Conv2d.outSize(5, 3, 2, 1, 1));
    }
}

package dev.jdiffusion.kernels;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Kernels give bit-identical results with 1, 2 and 3 threads (no reduction is split by thread count). */
class ThreadInvarianceTest {
    private final int saved = Parallel.threads();

    @AfterEach
    void restore() { Parallel.setThreads(saved); }

    private interface Kernel { float[] run(); }

    private static void same(String label, Kernel k) {
        Parallel.setThreads(1);
        float[] one = k.run();
        for (int t : new int[] {2, 3}) {
            Parallel.setThreads(t);
            assertArrayEquals(one, k.run(), label + " with " + t + " threads differs from 1 thread");
        }
    }

    @Test
    void bitIdenticalAcrossThreadCounts() {
        Random r = new Random(14);
        float[] a = Ref.rand(r, 301 * 517), b = Ref.rand(r, 517 * 403);
        same("sgemm", () -> { float[] c = new float[301 * 403]; Gemm.sgemm(false, false, 301, 403, 517, 1f, a, 0, 517, b, 0, 403, 0f, c, 0, 403); return c; });
        float[] w = new float[96 * 517];
        Matrix m = GemmTest.matrix("F16", r, 96, 517, w);
        float[] bias = Ref.rand(r, 96);
        same("linear", () -> { float[] y = new float[301 * 96]; Gemm.linear(a, 0, 301, m, bias, y, 0); return y; });
        same("linear 2 rows", () -> { float[] y = new float[2 * 96]; Gemm.linear(a, 0, 2, m, bias, y, 0); return y; });
        float[] x = Ref.rand(r, 2 * 24 * 19 * 23);
        Matrix cw = GemmTest.matrix("heap", r, 40, 24 * 9, new float[40 * 24 * 9]);
        same("conv", () -> { float[] y = new float[2 * 40 * 19 * 23]; Conv2d.forward(x, 2, 24, 19, 23, cw, 3, 3, bias, 1, 1, y); return y; });
        float[] xw = Ref.rand(r, 2 * 64 * 21 * 30);
        Matrix ww = GemmTest.matrix("F16", r, 72, 64 * 9, new float[72 * 64 * 9]);
        same("conv winograd", () -> { float[] y = new float[2 * 72 * 21 * 30]; Conv2d.forward(xw, 2, 64, 21, 30, ww, 3, 3, bias, 1, 1, y); return y; });
        float[] q = Ref.randn(r, 200 * 80, 1), k = Ref.randn(r, 150 * 80, 1);
        same("attention", () -> { float[] o = new float[q.length]; Attention.forward(q, k, k, 1, 2, 200, 150, 40, false, 0.15f, o); return o; });
        float[] g = Ref.randn(r, 2 * 64 * 300, 2);
        same("groupnorm", () -> { float[] y = new float[g.length]; GroupNorm.forward(g, 2, 64, 300, 32, null, null, 1e-5f, true, y); return y; });
        same("layernorm", () -> { float[] y = new float[g.length]; LayerNorm.forward(g, 120, 320, null, null, 1e-5f, y); return y; });
        same("geglu", () -> { float[] y = new float[g.length / 2]; Activations.geglu(g, 120, 160, y); return y; });
    }
}

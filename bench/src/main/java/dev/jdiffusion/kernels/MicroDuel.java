package dev.jdiffusion.kernels;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Every micro-kernel shape on its packed panels (an MC x KC block of A against one KC-deep B panel, as the GEMM's
 * inner loops run them: in cache), interleaved round by round on one thread so that a shared machine's load hits
 * all shapes alike; prints each shape's median GFLOP/s. Usage: MicroDuel [rounds=15].
 */
public final class MicroDuel {
    private MicroDuel() {}

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        int L = KernelConfig.LANES, kc = KernelConfig.KC;
        int n = KernelConfig.SHAPES.length;
        double[][] g = new double[n][rounds];
        Random r = new Random(5);
        float[] a = new float[120 * kc], b = new float[4 * 3 * L * kc], t = new float[12 * 3 * L];
        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat();
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat();
        for (int round = -3; round < rounds; round++)
            for (int s = 0; s < n; s++) {
                int mr = KernelConfig.SHAPES[s][0], nv = KernelConfig.SHAPES[s][1];
                int panels = 96 / mr * mr == 96 ? 96 / mr : 120 / mr, reps = 40;
                int bPanels = 12 / nv;   // the same B floats per shape: 12 vectors wide in total
                long t0 = System.nanoTime();
                for (int rep = 0; rep < reps; rep++)
                    for (int q = 0; q < bPanels; q++)
                        for (int p = 0; p < panels; p++) MicroKernels.run(s, kc, a, p * mr * kc, b, q * nv * L * kc, t, 0, nv * L, false);
                long dt = System.nanoTime() - t0;
                if (round >= 0) g[s][round] = 2.0 * reps * bPanels * panels * mr * nv * L * kc / dt;
            }
        System.out.println(KernelConfig.describe() + "; single thread, panels in cache");
        for (int s = 0; s < n; s++) {
            double[] v = g[s].clone();
            Arrays.sort(v);
            System.out.printf(Locale.ROOT, "  %2dx%d vectors (%2dx%-2d): median %.1f GFLOP/s, best %.1f%n", KernelConfig.SHAPES[s][0],
                    KernelConfig.SHAPES[s][1], KernelConfig.SHAPES[s][0], KernelConfig.SHAPES[s][1] * L, v[rounds / 2], v[rounds - 1]);
        }
    }

}

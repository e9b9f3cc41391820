package dev.jdiffusion.kernels;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Times the phases of one Winograd chunk (filter transform, as an uncached conv runs it at each call; input transform,
 * the 16 GEMMs, output transform) at a conv shape, on the calling thread and the pool as the kernel runs them; prints
 * medians. Usage: WinogradPhases [c=640] [hw=32] [reps=15].
 */
public final class WinogradPhases {
    private WinogradPhases() {}

    public static void main(String[] args) {
        int c = args.length > 0 ? Integer.parseInt(args[0]) : 640, hw = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        Random r = new Random(1);
        float[] x = new float[c * hw * hw];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat() - 0.5f;
        float[] w = new float[c * c * 9];
        for (int i = 0; i < w.length; i++) w[i] = (r.nextFloat() - 0.5f) * 0.05f;
        Matrix m = Matrix.of(w, c, c * 9);
        float[] u = Winograd.transformFilters(m, c, c);
        int th = (hw + 1) / 2, tw = th, tc = th * tw;
        float[] v = new float[16 * c * tc], mm = new float[16 * c * tc], y = new float[c * hw * hw];
        double[] tf = new double[reps], tin = new double[reps], tg = new double[reps], tout = new double[reps], tall = new double[reps];
        float[] scratch = new float[u.length];
        for (int i = -5; i < reps; i++) {
            long tf0 = System.nanoTime();
            Winograd.transformFilters(m, c, c, scratch);
            long t0 = System.nanoTime();
            Parallel.forRange(c, 1, (c0, c1) -> Winograd.inputTransform(x, 0, hw, 1, hw, tw, 0, th, c0, c1, c, tc, v));
            long t1 = System.nanoTime();
            GemmKernel.PackA[] pa = new GemmKernel.PackA[16];
            GemmKernel.PackB[] pb = new GemmKernel.PackB[16];
            int[] cOff = new int[16];
            for (int e = 0; e < 16; e++) {
                pa[e] = GemmKernel.packA(u, e * c * c, c, false);
                pb[e] = GemmKernel.packB(v, e * c * tc, tc, false);
                cOff[e] = e * c * tc;
            }
            GemmKernel.gemmBatch(c, tc, c, pa, pb, mm, cOff, tc);
            long t2 = System.nanoTime();
            Parallel.forRange(c, 1, (o0, o1) -> Winograd.outputTransform(mm, c, tc, tw, 0, th, o0, o1, null, y, 0, hw, hw));
            long t3 = System.nanoTime();
            Winograd.forward(x, 1, c, hw, hw, u, c, null, y);
            long t4 = System.nanoTime();
            if (i >= 0) {
                tf[i] = (t0 - tf0) / 1e6;
                tin[i] = (t1 - t0) / 1e6;
                tg[i] = (t2 - t1) / 1e6;
                tout[i] = (t3 - t2) / 1e6;
                tall[i] = (t4 - t3) / 1e6;
            }
        }
        double gflop = 2.0 * 16 * c * c * tc / 1e9;
        System.out.printf(Locale.ROOT, "%s, %d threads; winograd %dx%dx%d: filters %.2f ms, input %.2f ms, gemms %.2f ms (%.1f GFLOP/s), output %.2f ms, forward %.2f ms (direct-equivalent %.1f GFLOP/s)%n",
                KernelConfig.describe(), Parallel.threads(), c, hw, hw, med(tf), med(tin), med(tg), gflop / med(tg) * 1e3, med(tout), med(tall),
                2.0 * c * c * 9 * hw * hw / 1e9 / med(tall) * 1e3);
    }

    private static double med(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}

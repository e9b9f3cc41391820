package dev.jdiffusion.bench;

import dev.jdiffusion.cli.BlasReference;
import dev.jdiffusion.cli.FmaPeak;
import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.KernelConfig;
import dev.jdiffusion.kernels.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;

/**
 * Interleaved comparison for a noisy shared machine: alternates ours and OpenBLAS on n x n x n for a number of
 * rounds (after a warm-up of at least 3 s) and reports the median and best GFLOP/s of each and the ratio of medians.
 * Usage: GemmDuel [n=2048 | MxNxK | linear:RxIxO | conv1x1:CoutxHWxCin | conv3x3:CxHxW] [rounds=20] (MxNxK: C[M x N] = A[M x K] B[K x N],
 * e.g. a Winograd GEMM 320x1024x320). {@code linear:RxIxO} runs our linear layer (R rows, I inputs, O outputs, F16
 * weights, with bias) against OpenBLAS's R x O x I product with Bᵀ in float32; {@code conv1x1:CoutxHWxCin} runs our 1x1
 * convolution (F16 weights, bias) against OpenBLAS's Cout x HW x Cin product; {@code conv3x3:CxHxW} our 3x3 convolution
 * (C channels in and out, pad 1; Winograd where it applies) against OpenBLAS's im2col product C x HW x 9C: the op kinds
 * of {@code bench --profile}, FLOPs as written. Each round also runs the register-only FMA loop on the same threads
 * ({@link FmaPeak}, first, after the wait for OpenBLAS's threads); the median of each round's rate over that round's loop
 * says how far each GEMM is from what Java gets from the FMA units at this width.
 */
public final class GemmDuel {
    private GemmDuel() {}

    public static void main(String[] args) {
        String arg = args.length > 0 ? args[0] : "2048";
        String op = arg.contains(":") ? arg.substring(0, arg.indexOf(':')) : "sgemm", size = arg.substring(arg.indexOf(':') + 1);
        String[] dims = size.split("x");
        int m = Integer.parseInt(dims[0]), n = dims.length == 3 ? Integer.parseInt(dims[1]) : m, k = dims.length == 3 ? Integer.parseInt(dims[2]) : m;
        boolean transB = false;
        Runnable ourOp;
        switch (op) {
            case "sgemm" -> ourOp = null;
            case "linear" -> {   // rows x in x out: C[rows x out] = x[rows x in] Wᵀ, W out x in
                int rows = m, in = n, out = k;
                m = rows; n = out; k = in; transB = true;
                float[] x = KernelBench.rand(rows * in, 1), y = new float[rows * out], bias = KernelBench.rand(out, 4);
                var w = KernelBench.f16(KernelBench.rand(out * in, 2), out, in);
                ourOp = () -> Gemm.linear(x, 0, rows, w, bias, y, 0);
            }
            case "conv1x1" -> {  // cout x hw x cin: C[cout x hw] = W[cout x cin] X[cin x hw]
                int cout = m, hw = n, cin = k;
                float[] x = KernelBench.rand(cin * hw, 1), y = new float[cout * hw], bias = KernelBench.rand(cout, 4);
                var w = KernelBench.f16(KernelBench.rand(cout * cin, 2), cout, cin);
                ourOp = () -> Conv2d.forward(x, 1, cin, 1, hw, w, 1, 1, bias, 1, 0, y);
            }
            case "conv3x3" -> {  // channels x height x width (cin = cout), pad 1: OpenBLAS runs the im2col product C x HW x 9C
                int ch = m, hh = n, ww = k;
                m = ch; n = hh * ww; k = 9 * ch;
                float[] x = KernelBench.rand(ch * hh * ww, 1), y = new float[ch * hh * ww], bias = KernelBench.rand(ch, 4);
                var w = KernelBench.f16(KernelBench.rand(ch * ch * 9, 2), ch, ch * 9);
                ourOp = () -> Conv2d.forward(x, 1, ch, hh, ww, w, 3, 3, bias, 1, 1, y);
            }
            default -> throw new IllegalArgumentException("unknown op " + op + ": sgemm (n or MxNxK), linear:RxIxO, conv1x1:CoutxHWxCin or conv3x3:CxHxW");
        }
        final int fm = m, fn = n, fk = k;
        final boolean ft = transB;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        if (!BlasReference.available()) {
            System.out.println("OpenBLAS not installed: nothing to compare against");
            return;
        }
        System.out.println("OpenBLAS kernels: " + BlasReference.coreName() + " (OPENBLAS_CORETYPE overrides)");
        float[] a = KernelBench.rand(m * k, 1), b = KernelBench.rand(k * n, 2), c = new float[m * n];
        Runnable ours0 = ourOp != null ? ourOp : () -> Gemm.sgemm(false, false, fm, fn, fk, 1f, a, 0, fk, b, 0, fn, 0f, c, 0, fn);
        MemorySegment na = KernelBench.native32(a), nb = KernelBench.native32(b), nc = Arena.global().allocate(4L * m * n, 64);
        double flops = 2.0 * m * n * k;
        double[] ours = new double[rounds], blas = new double[rounds], peak = new double[rounds], oursOfPeak = new double[rounds], blasOfPeak = new double[rounds];
        long peakSteps = FmaPeak.stepsFor(50);
        // Warm-up: at least 5 rounds and 3 seconds, so that small shapes are measured after C2 has compiled the loops
        // (a 320x4096x320 product takes milliseconds: 5 rounds would still run profiled tier-3 code).
        long warmEnd = System.nanoTime() + 3_000_000_000L;
        for (int warm = 0; warm < 5 || System.nanoTime() < warmEnd; warm++) {
            ours0.run();
            BlasReference.sgemm(ft, m, n, k, na, nb, nc);
        }
        // OpenBLAS's idle threads busy-wait after a call (2^28 cycles, about 0.1 s, unless OPENBLAS_THREAD_TIMEOUT says
        // less) and would take the cores from our next call: measured on 320x4096x320 under UseAVX=2 our median rose
        // from 100 to 117 GFLOP/s with OPENBLAS_THREAD_TIMEOUT=4, OpenBLAS's unchanged. So each round waits them out.
        boolean spinning = System.getenv("OPENBLAS_THREAD_TIMEOUT") == null;
        for (int i = 0; i < rounds; i++) {
            if (spinning) pause();
            // the ceiling, in the same round (a shared host's load moves it), before OpenBLAS's threads spin again
            peak[i] = FmaPeak.measure(Parallel.threads(), peakSteps);
            long t0 = System.nanoTime();
            ours0.run();
            long t1 = System.nanoTime();
            BlasReference.sgemm(ft, m, n, k, na, nb, nc);
            long t2 = System.nanoTime();
            ours[i] = flops / (t1 - t0);
            blas[i] = flops / (t2 - t1);
            oursOfPeak[i] = ours[i] / peak[i];
            blasOfPeak[i] = blas[i] / peak[i];
        }
        if (spinning) System.out.println("(each round waited 150 ms for OpenBLAS's idle threads to stop spinning; set OPENBLAS_THREAD_TIMEOUT=4 to skip the wait)");
        Arrays.sort(ours);
        Arrays.sort(blas);
        Arrays.sort(peak);
        Arrays.sort(oursOfPeak);
        Arrays.sort(blasOfPeak);
        double mo = ours[rounds / 2], mb = blas[rounds / 2], mp = peak[rounds / 2];
        System.out.printf(Locale.ROOT, "%s, %d threads%n", KernelConfig.describe(), Parallel.threads());
        System.out.printf(Locale.ROOT, "%s %s, %d interleaved rounds: ours median %.1f best %.1f GFLOP/s; OpenBLAS median %.1f best %.1f GFLOP/s; ratio of medians %.2f, of bests %.2f%n",
                ourOp == null ? "sgemm" : op + " (OpenBLAS: sgemm " + m + "x" + n + "x" + k + (transB ? " Bᵀ" : "") + ")",
                dims.length == 3 ? size : n + "^3", rounds, mo, ours[rounds - 1], mb, blas[rounds - 1], mo / mb, ours[rounds - 1] / blas[rounds - 1]);
        System.out.printf(Locale.ROOT, "FMA loop of these threads at this width (FmaPeak, each round; a lower bound of the peak): median %.1f "
                + "best %.1f GFLOP/s; each round's rate as a fraction of that round's loop, medians: ours %.2f, OpenBLAS %.2f%n", mp, peak[rounds - 1],
                oursOfPeak[rounds / 2], blasOfPeak[rounds / 2]);
    }

    private static void pause() {
        try {
            Thread.sleep(150);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

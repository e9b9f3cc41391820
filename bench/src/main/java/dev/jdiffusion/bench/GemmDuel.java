package dev.jdiffusion.bench;

import dev.jdiffusion.cli.BlasReference;
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
 * Usage: GemmDuel [n=2048 | MxNxK] [rounds=20] (MxNxK: C[M x N] = A[M x K] B[K x N], e.g. a Winograd GEMM 320x1024x320).
 */
public final class GemmDuel {
    private GemmDuel() {}

    public static void main(String[] args) {
        String size = args.length > 0 ? args[0] : "2048";
        String[] dims = size.split("x");
        int m = Integer.parseInt(dims[0]), n = dims.length == 3 ? Integer.parseInt(dims[1]) : m, k = dims.length == 3 ? Integer.parseInt(dims[2]) : m;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        if (!BlasReference.available()) {
            System.out.println("OpenBLAS not installed: nothing to compare against");
            return;
        }
        float[] a = KernelBench.rand(m * k, 1), b = KernelBench.rand(k * n, 2), c = new float[m * n];
        MemorySegment na = KernelBench.native32(a), nb = KernelBench.native32(b), nc = Arena.global().allocate(4L * m * n, 64);
        double flops = 2.0 * m * n * k;
        double[] ours = new double[rounds], blas = new double[rounds];
        // Warm-up: at least 5 rounds and 3 seconds, so that small shapes are measured after C2 has compiled the loops
        // (a 320x4096x320 product takes milliseconds: 5 rounds would still run profiled tier-3 code).
        long warmEnd = System.nanoTime() + 3_000_000_000L;
        for (int warm = 0; warm < 5 || System.nanoTime() < warmEnd; warm++) {
            Gemm.sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
            BlasReference.sgemm(false, m, n, k, na, nb, nc);
            warm++;
        }
        // OpenBLAS's idle threads busy-wait after a call (2^28 cycles, about 0.1 s, unless OPENBLAS_THREAD_TIMEOUT says
        // less) and would take the cores from our next call: measured on 320x4096x320 under UseAVX=2 our median rose
        // from 100 to 117 GFLOP/s with OPENBLAS_THREAD_TIMEOUT=4, OpenBLAS's unchanged. So each round waits them out.
        boolean spinning = System.getenv("OPENBLAS_THREAD_TIMEOUT") == null;
        for (int i = 0; i < rounds; i++) {
            if (spinning) pause();
            long t0 = System.nanoTime();
            Gemm.sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
            long t1 = System.nanoTime();
            BlasReference.sgemm(false, m, n, k, na, nb, nc);
            long t2 = System.nanoTime();
            ours[i] = flops / (t1 - t0);
            blas[i] = flops / (t2 - t1);
        }
        if (spinning) System.out.println("(each round waited 150 ms for OpenBLAS's idle threads to stop spinning; set OPENBLAS_THREAD_TIMEOUT=4 to skip the wait)");
        Arrays.sort(ours);
        Arrays.sort(blas);
        double mo = ours[rounds / 2], mb = blas[rounds / 2];
        System.out.printf(Locale.ROOT, "%s, %d threads%n", KernelConfig.describe(), Parallel.threads());
        System.out.printf(Locale.ROOT, "sgemm %s, %d interleaved rounds: ours median %.1f best %.1f GFLOP/s; OpenBLAS median %.1f best %.1f GFLOP/s; ratio of medians %.2f, of bests %.2f%n",
                dims.length == 3 ? size : n + "^3", rounds, mo, ours[rounds - 1], mb, blas[rounds - 1], mo / mb, ours[rounds - 1] / blas[rounds - 1]);
    }

    private static void pause() {
        try {
            Thread.sleep(150);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

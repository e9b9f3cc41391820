package dev.jdiffusion.cli;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;
import java.util.Locale;

/**
 * The FMA throughput a Java loop gets from this machine at the kernels' vector width: each of n threads runs 14
 * independent chains of vector fused multiply-adds on registers (no memory). It is the ceiling of any GEMM written in
 * Java at this width, and needs no native library, so {@code bench --profile} reports each op kind as a fraction of it
 * next to OpenBLAS, and {@code GemmDuel} (bench/) measures it in every round. 14 chains: 8 keep two FMA units of latency
 * 4 busy, and 14 accumulators plus the one operand fit 16 registers (AVX2). A lower bound of the hardware's peak, close to it
 * (on a Xeon at 3 GHz, one core, quiet: 93-95 GFLOP/s at 256 bits, best 188-191 at 512, of 96 and 192). Benchmarks only.
 * Usage: {@code java --add-modules jdk.incubator.vector -cp JAR dev.jdiffusion.cli.FmaPeak [threads] [rounds]}.
 */
public final class FmaPeak {
    private FmaPeak() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static volatile float sink;

    /** FLOPs of one call of {@link #chains}: 14 chains of n FMAs (n even), 2 FLOPs per lane each. */
    static double flops(long n) { return 14.0 * 2 * S.length() * (n / 2 * 2); }

    /**
     * n steps (rounded down to even, at most 2 (2^31 - 1)) of 14 independent FMA chains; returns a value that depends on all of
     * them (so none is dropped).
     */
    static float chains(long n) {
        if (n < 0 || n / 2 > Integer.MAX_VALUE) throw new IllegalArgumentException("steps " + n);
        FloatVector x = FloatVector.broadcast(S, 0.999999f);   // a := a x + x stays finite (it tends to x / (1 - x))
        FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3), a4 = a0.add(4), a5 = a0.add(5),
                a6 = a0.add(6), a7 = a0.add(7), a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11), a12 = a0.add(12),
                a13 = a0.add(13);
        // two steps per iteration, on an int counter: the loop's own micro-ops share ports with 256-bit FMAs (one step per
        // iteration on a long counter: 85-87 GFLOP/s on one Xeon core under UseAVX=2; this: 93-95, 32 FLOPs a cycle at 3 GHz)
        for (int i = 0, pairs = (int) (n / 2); i < pairs; i++) {
            a0 = a0.fma(x, x); a1 = a1.fma(x, x); a2 = a2.fma(x, x); a3 = a3.fma(x, x); a4 = a4.fma(x, x); a5 = a5.fma(x, x);
            a6 = a6.fma(x, x); a7 = a7.fma(x, x); a8 = a8.fma(x, x); a9 = a9.fma(x, x); a10 = a10.fma(x, x); a11 = a11.fma(x, x);
            a12 = a12.fma(x, x); a13 = a13.fma(x, x);
            a0 = a0.fma(x, x); a1 = a1.fma(x, x); a2 = a2.fma(x, x); a3 = a3.fma(x, x); a4 = a4.fma(x, x); a5 = a5.fma(x, x);
            a6 = a6.fma(x, x); a7 = a7.fma(x, x); a8 = a8.fma(x, x); a9 = a9.fma(x, x); a10 = a10.fma(x, x); a11 = a11.fma(x, x);
            a12 = a12.fma(x, x); a13 = a13.fma(x, x);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).add(a12).add(a13)
                .reduceLanes(VectorOperators.ADD);
    }

    /** Steps of {@link #chains} that take about ms milliseconds on one thread of this machine (measured after a warm-up). */
    public static long stepsFor(double ms) {
        for (int i = 0; i < 20; i++) sink = chains(200_000);   // compiled by C2 before timing
        long t0 = System.nanoTime();
        sink = chains(2_000_000);
        double perStep = (System.nanoTime() - t0) / 2e6;
        return Math.min(2L * Integer.MAX_VALUE, Math.max(1000, (long) (ms * 1e6 / perStep)));
    }

    /** GFLOP/s of threads threads (at least 1) each running {@link #chains} of n steps at once. */
    public static double measure(int threads, long n) {
        int t = Math.max(1, threads);
        float[] out = new float[t];
        Thread[] run = new Thread[t];
        for (int i = 0; i < t; i++) {
            int k = i;
            run[i] = new Thread(() -> out[k] = chains(n), "fma-peak-" + i);
        }
        long t0 = System.nanoTime();
        for (Thread th : run) th.start();
        try {
            for (Thread th : run) th.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
        double s = (System.nanoTime() - t0) / 1e9;
        float v = 0;
        for (float f : out) v += f;
        sink = v;
        return t * flops(n) / s / 1e9;
    }

    /** The median GFLOP/s of rounds measurements of threads threads, each about 100 ms. */
    public static double gflops(int threads, int rounds) {
        double[] g = sortedRates(threads, rounds);
        return g[g.length / 2];
    }

    /** GFLOP/s of rounds (at least 1) measurements of threads threads, each about 100 ms, in ascending order. */
    private static double[] sortedRates(int threads, int rounds) {
        long n = stepsFor(100);
        double[] g = new double[Math.max(1, rounds)];
        for (int i = 0; i < g.length; i++) g[i] = measure(threads, n);
        Arrays.sort(g);
        return g;
    }

    /** Width of the vectors the loop runs on, in bits (the kernels' species). */
    public static int vectorBits() { return S.vectorBitSize(); }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        double[] g = sortedRates(threads, rounds);
        System.out.printf(Locale.ROOT, "%d-bit FMA loop, %d threads: median %.1f best %.1f GFLOP/s (%.1f per thread)%n", S.vectorBitSize(),
                threads, g[g.length / 2], g[g.length - 1], g[g.length / 2] / threads);
    }
}

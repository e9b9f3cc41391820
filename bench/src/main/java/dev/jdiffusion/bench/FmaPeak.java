package dev.jdiffusion.bench;

import dev.jdiffusion.kernels.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Locale;

/**
 * The FMA throughput the running JVM gets from this machine: every compute thread runs independent chains of vector
 * fused multiply-adds on registers (no memory), in the species the kernels use. It is the ceiling of any GEMM at this
 * width, so {@link GemmDuel} reports both GEMMs as a fraction of it, measured in the same rounds (a shared host's
 * load moves it by a third from one hour to the next). 14 chains: 8 keep two FMA units of latency 4 busy, and 14
 * accumulators plus the one operand fit 16 registers (AVX2). A lower bound of the hardware's peak: at 256 bits OpenBLAS's
 * assembly has run faster than this loop (the loop's own integer micro-ops may take slots of the ports the FMAs use).
 * Usage: FmaPeak [seconds=2].
 */
public final class FmaPeak {
    private FmaPeak() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static volatile float sink;

    /** FLOPs of one call of {@link #chains}: 14 chains of n FMAs, 2 FLOPs per lane each. */
    static double flops(long n) { return 14.0 * 2 * S.length() * n; }

    /** n steps of 14 independent FMA chains; returns a value that depends on all of them (so none is dropped). */
    static float chains(long n) {
        FloatVector x = FloatVector.broadcast(S, 0.999999f);   // a := a x + x stays finite (it tends to x / (1 - x))
        FloatVector a0 = FloatVector.broadcast(S, 1f), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3), a4 = a0.add(4), a5 = a0.add(5),
                a6 = a0.add(6), a7 = a0.add(7), a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11), a12 = a0.add(12),
                a13 = a0.add(13);
        for (long i = 0; i < n; i++) {
            a0 = a0.fma(x, x); a1 = a1.fma(x, x); a2 = a2.fma(x, x); a3 = a3.fma(x, x); a4 = a4.fma(x, x); a5 = a5.fma(x, x);
            a6 = a6.fma(x, x); a7 = a7.fma(x, x); a8 = a8.fma(x, x); a9 = a9.fma(x, x); a10 = a10.fma(x, x); a11 = a11.fma(x, x);
            a12 = a12.fma(x, x); a13 = a13.fma(x, x);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).add(a12).add(a13)
                .reduceLanes(VectorOperators.ADD);
    }

    /** GFLOP/s of all compute threads running {@link #chains} of n steps each at once. */
    static double measure(long n) {
        int threads = Parallel.threads();
        float[] out = new float[threads];
        long t0 = System.nanoTime();
        Parallel.forRange(threads, 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) out[i] = chains(n);
        });
        double s = (System.nanoTime() - t0) / 1e9;
        float v = 0;
        for (float f : out) v += f;
        sink = v;
        return threads * flops(n) / s / 1e9;
    }

    /** Steps of {@link #chains} that take about ms milliseconds on one thread of this machine (after a warm-up). */
    static long stepsFor(double ms) {
        for (int i = 0; i < 20; i++) sink = chains(200_000);   // compiled by C2 before timing
        long t0 = System.nanoTime();
        sink = chains(2_000_000);
        double perStep = (System.nanoTime() - t0) / 2e6;
        return Math.max(1000, (long) (ms * 1e6 / perStep));
    }

    public static void main(String[] args) {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        long n = stepsFor(100);
        int rounds = Math.max(3, (int) (seconds * 10));
        double[] g = new double[rounds];
        for (int i = 0; i < rounds; i++) g[i] = measure(n);
        java.util.Arrays.sort(g);
        System.out.printf(Locale.ROOT, "%d-bit FMA peak, %d threads: median %.1f best %.1f GFLOP/s (%.1f per thread)%n", S.vectorBitSize(),
                Parallel.threads(), g[rounds / 2], g[rounds - 1], g[rounds / 2] / Parallel.threads());
    }
}

package dev.jdiffusion.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

/**
 * The compute thread pool. Sized to the available cores unless {@code jdiffusion.threads} (system property)
 * or {@link #setThreads(int)} says otherwise. Kernels split their work with {@link #forRange}.
 */
public final class Parallel {
    private Parallel() {}

    /** Body of a parallel loop over [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private static volatile ForkJoinPool pool = newPool(defaultThreads());

    static int defaultThreads() {
        String p = System.getProperty("jdiffusion.threads");
        if (p != null && !p.isBlank()) return Math.max(1, Integer.parseInt(p.trim()));
        return Runtime.getRuntime().availableProcessors();
    }

    private static ForkJoinPool newPool(int n) {
        AtomicInteger id = new AtomicInteger();
        return new ForkJoinPool(n, p -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("jdiffusion-compute-" + id.getAndIncrement());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /** Number of compute threads. */
    public static int threads() { return pool.getParallelism(); }

    /** Replaces the pool with one of n threads (n >= 1). */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n == pool.getParallelism()) return;
        ForkJoinPool old = pool;
        pool = newPool(n);
        old.shutdown();
    }

    /**
     * Runs body over [0, n) split into at most {@code threads()} contiguous chunks whose sizes are multiples
     * of grain (except the last). Runs inline when there is one chunk or the caller is already a compute thread.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        int units = (n + g - 1) / g;
        int t = Math.min(threads(), units);
        if (t <= 1 || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == pool) {
            body.run(0, n);
            return;
        }
        int per = (units + t - 1) / t;
        int chunks = (units + per - 1) / per;
        pool.submit(() -> IntStream.range(0, chunks).parallel().forEach(c -> {
            int s = c * per * g;
            int e = Math.min(n, (c + 1) * per * g);
            if (s < e) body.run(s, e);
        })).join();
    }

    /** {@link #forRange(int, int, RangeBody)} with grain 1. */
    public static void forRange(int n, RangeBody body) { forRange(n, 1, body); }
}

package dev.jdiffusion.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The compute thread pool. Sized to the available cores unless {@code jdiffusion.threads} (system property)
 * or {@link #setThreads(int)} says otherwise. Kernels split their work with {@link #forRange}.
 *
 * <p>A fixed set of worker threads; the calling thread works too. Idle workers spin for a few tens of
 * microseconds before parking, so the short loops of a U-Net do not pay a park/unpark each time. Chunk
 * boundaries depend only on n, grain and the thread count given at the call, and kernels never split a
 * reduction by them, so results do not depend on the thread count.
 */
public final class Parallel {
    private Parallel() {}

    /** Body of a parallel loop over [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /** Nanoseconds an idle worker (or a waiting caller) spins before it parks. */
    private static final long SPIN_NANOS = 50_000;

    private static volatile Pool pool = new Pool(defaultThreads());

    static int defaultThreads() {
        String p = System.getProperty("jdiffusion.threads");
        if (p != null && !p.isBlank()) return Math.max(1, Integer.parseInt(p.trim()));
        return Runtime.getRuntime().availableProcessors();
    }

    /** Number of compute threads. */
    public static int threads() { return pool.threads; }

    /** Replaces the pool with one of n threads (n >= 1). */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n == pool.threads) return;
        Pool old = pool;
        pool = new Pool(n);
        old.shutdown();
    }

    /**
     * Runs body over [0, n) split into at most {@code threads()} contiguous chunks whose sizes are multiples
     * of grain (except the last). Runs inline when there is one chunk or the caller is already inside a
     * parallel loop.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        int units = (n + g - 1) / g;
        Pool p = pool;
        int t = Math.min(p.threads, units);
        if (t <= 1 || p.inside()) {
            body.run(0, n);
            return;
        }
        int per = (units + t - 1) / t;
        int chunks = (units + per - 1) / per;
        p.run(new Job(body, n, per * g, chunks));
    }

    /** {@link #forRange(int, int, RangeBody)} with grain 1. */
    public static void forRange(int n, RangeBody body) { forRange(n, 1, body); }

    /**
     * Runs body once for each task index in [0, tasks) across the pool ({@code body.run(i, i + 1)});
     * for kernels that form their own balanced task list.
     */
    static void forTasks(int tasks, RangeBody body) {
        if (tasks <= 0) return;
        Pool p = pool;
        if (p.threads <= 1 || tasks == 1 || p.inside()) {
            body.run(0, tasks);
            return;
        }
        p.run(new Job(body, tasks, 1, tasks));
    }

    private static final class Job {
        final RangeBody body;
        final int n, chunkSize, chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger remaining;
        volatile Throwable error;
        volatile Thread caller;

        Job(RangeBody body, int n, int chunkSize, int chunks) {
            this.body = body;
            this.n = n;
            this.chunkSize = chunkSize;
            this.chunks = chunks;
            this.remaining = new AtomicInteger(chunks);
        }

        /** Takes and runs chunks until none are left. */
        void work() {
            int done = 0;
            for (int c; (c = next.getAndIncrement()) < chunks; done++) {
                int s = c * chunkSize, e = Math.min(n, s + chunkSize);
                try {
                    if (s < e) body.run(s, e);
                } catch (Throwable t) {
                    if (error == null) error = t;
                }
            }
            if (done > 0 && remaining.addAndGet(-done) == 0) {
                Thread c = caller;
                if (c != Thread.currentThread()) LockSupport.unpark(c);
            }
        }
    }

    private static final class Pool {
        final int threads;
        final Worker[] workers;
        final ReentrantLock lock = new ReentrantLock();
        volatile Job job;
        volatile long generation;
        volatile boolean stopped;
        volatile Thread activeCaller;

        Pool(int threads) {
            this.threads = threads;
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this, "jdiffusion-compute-" + (i + 1));
                workers[i].start();
            }
        }

        boolean inside() {
            Thread t = Thread.currentThread();
            return t == activeCaller || (t instanceof Worker w && w.pool == this);
        }

        void run(Job j) {
            lock.lock();
            try {
                Thread me = Thread.currentThread();
                j.caller = me;
                activeCaller = me;
                job = j;
                generation++;
                for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
                j.work();
                long t0 = System.nanoTime();
                int spins = 0;
                while (j.remaining.get() > 0) {
                    if (++spins < 1 << 20 && ((spins & 63) != 0 || System.nanoTime() - t0 < SPIN_NANOS)) Thread.onSpinWait();
                    else LockSupport.parkNanos(this, 1_000_000);
                }
            } finally {
                job = null;
                activeCaller = null;
                lock.unlock();
            }
            Throwable e = j.error;
            if (e instanceof RuntimeException re) throw re;
            if (e instanceof Error er) throw er;
            if (e != null) throw new RuntimeException(e);
        }

        void shutdown() {
            stopped = true;
            for (Worker w : workers) LockSupport.unpark(w);
        }
    }

    private static final class Worker extends Thread {
        final Pool pool;
        volatile boolean parked;

        Worker(Pool pool, String name) {
            super(name);
            this.pool = pool;
            setDaemon(true);
        }

        @Override
        public void run() {
            long seen = 0;
            while (!pool.stopped) {
                long t0 = System.nanoTime();
                int spins = 0;
                while (pool.generation == seen && !pool.stopped) {
                    if ((++spins & 63) != 0 || System.nanoTime() - t0 < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        if (pool.generation == seen && !pool.stopped) LockSupport.park(pool);
                        parked = false;
                        t0 = System.nanoTime();
                    }
                }
                seen = pool.generation;
                Job j = pool.job;
                if (j != null) j.work();
            }
        }
    }
}

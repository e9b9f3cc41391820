package dev.jdiffusion.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The compute thread pools. Kernels split their work with {@link #forRange}; the pool that runs it is the one
 * bound to the calling thread by {@link Lease#call} (a model binds its own for each generation), else the
 * default pool.
 *
 * <h2>Lifecycle</h2>
 * <ul>
 *   <li>A pool is created on first use, with daemon threads ({@code jdiffusion-compute-K-of-N}); nothing starts when
 *       this class is initialised.
 *   <li>{@link #lease(int)} holds a pool of a given size: each loaded model holds one lease (sized by
 *       {@code ModelOptions.threads}, else {@code -Djdiffusion.threads}, else the available cores), and models of
 *       the same size share one pool. When the last lease on a pool is closed (the last model using it closes),
 *       its threads stop.
 *   <li>Kernels called outside any lease (tests, benchmarks, tools) use the default pool, sized by
 *       {@link #setThreads} or the property. A pool that no lease holds stops its threads after
 *       {@value #IDLE_MILLIS} ms without work and is created again on the next call, so an application that
 *       unloads the engine (a redeployed web application) leaves no thread behind.
 *   <li>A bad {@code jdiffusion.threads} value is an {@link IllegalArgumentException} naming the property, thrown
 *       where a pool is first needed (at model load), never a class-initialisation error.
 * </ul>
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

    /** System property that sizes pools not given an explicit size: a positive integer. */
    public static final String THREADS_PROPERTY = "jdiffusion.threads";
    /** Largest pool size accepted. */
    public static final int MAX_THREADS = 1024;
    /** Nanoseconds an idle worker (or a waiting caller) spins before it parks. */
    private static final long SPIN_NANOS = 50_000;
    /** Milliseconds without work after which a pool that no lease holds stops its threads. */
    static final long IDLE_MILLIS = 10_000;

    private static final ScopedValue<Pool> BOUND = ScopedValue.newInstance();
    /** Live pools by size; guarded by the class lock. */
    private static final java.util.Map<Integer, Pool> POOLS = new java.util.HashMap<>();
    /** Size of the default pool, 0 until first needed (then from the property or the cores). */
    private static int defaultSize;

    /**
     * The pool size from {@code -Djdiffusion.threads}, or the available cores when it is unset.
     *
     * @throws IllegalArgumentException the property is not an integer from 1 to {@value #MAX_THREADS}
     */
    public static int defaultThreads() {
        String p = System.getProperty(THREADS_PROPERTY);
        if (p == null || p.isBlank()) return Runtime.getRuntime().availableProcessors();
        int n;
        try {
            n = Integer.parseInt(p.trim());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 1 || n > MAX_THREADS)
            throw new IllegalArgumentException("-D" + THREADS_PROPERTY + "=" + p + ": expected a number of compute threads from 1 to "
                    + MAX_THREADS + " (or leave it unset for all cores)");
        return n;
    }

    /** Number of compute threads of the pool a kernel called from this thread would use. */
    public static int threads() {
        if (BOUND.isBound()) return BOUND.get().threads;
        synchronized (Parallel.class) {
            if (defaultSize == 0) defaultSize = defaultThreads();
            return defaultSize;
        }
    }

    /** Sets the size of the default pool (used by kernels called outside any lease); n >= 1. */
    public static synchronized void setThreads(int n) {
        if (n < 1 || n > MAX_THREADS) throw new IllegalArgumentException("threads must be from 1 to " + MAX_THREADS + ", got " + n);
        defaultSize = n;
    }

    /**
     * Holds a pool of n threads (n <= 0: {@link #defaultThreads()}) until the lease is closed; the pool's threads
     * start on its first parallel loop.
     *
     * @throws IllegalArgumentException n above {@value #MAX_THREADS}, or a bad {@code jdiffusion.threads}
     */
    public static Lease lease(int n) {
        int size = n <= 0 ? defaultThreads() : n;
        if (size > MAX_THREADS) throw new IllegalArgumentException("threads must be from 1 to " + MAX_THREADS + ", got " + size);
        synchronized (Parallel.class) {
            Pool p = live(size);
            p.owners++;
            return new Lease(p);
        }
    }

    /** The live pool of this size, a new one when there is none (or it stopped). Caller holds the class lock. */
    private static Pool live(int size) {
        Pool p = POOLS.get(size);
        if (p == null || p.stopped) {
            p = new Pool(size);
            POOLS.put(size, p);
        }
        return p;
    }

    /** Number of compute worker threads alive in the process (for tests of the lifecycle). */
    static int liveWorkers() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) if (t instanceof Worker && t.isAlive()) n++;
        return n;
    }

    /** A hold on a pool: binds it for the kernels a call makes, and releases it on close (once). */
    public static final class Lease implements AutoCloseable {
        private final Pool pool;
        private boolean closed;

        private Lease(Pool pool) { this.pool = pool; }

        /** Number of threads of the held pool. */
        public int threads() { return pool.threads; }

        /** Runs op with this lease's pool serving every parallel loop the calling thread starts. */
        public <R> R call(java.util.function.Supplier<R> op) {
            synchronized (Parallel.class) {
                if (closed) throw new IllegalStateException("the compute pool lease is closed");
            }
            return ScopedValue.where(BOUND, pool).call(op::get);
        }

        /** Releases the pool; its threads stop when no other lease holds it. */
        @Override public void close() {
            synchronized (Parallel.class) {
                if (closed) return;
                closed = true;
                if (--pool.owners == 0) {
                    pool.shutdown();
                    POOLS.remove(pool.threads, pool);
                }
            }
        }
    }

    /** The pool for a call from this thread: the bound one, else the default pool. */
    private static Pool current() {
        if (BOUND.isBound()) return BOUND.get();
        synchronized (Parallel.class) {
            if (defaultSize == 0) defaultSize = defaultThreads();
            return live(defaultSize);
        }
    }

    /** True on a compute worker thread (of any pool): nested loops run inline there. */
    private static boolean onWorker() { return Thread.currentThread() instanceof Worker; }

    /**
     * Runs body over [0, n) split into at most {@code threads()} contiguous chunks whose sizes are multiples
     * of grain (except the last). Runs inline when there is one chunk or the caller is already inside a
     * parallel loop.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        int units = (n + g - 1) / g;
        if (onWorker()) {
            body.run(0, n);
            return;
        }
        Pool p = current();
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
        if (onWorker()) {
            body.run(0, tasks);
            return;
        }
        Pool p = current();
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
        final ReentrantLock lock = new ReentrantLock();
        /** Started by the first parallel loop (under lock). */
        Worker[] workers;
        /** Leases holding this pool; guarded by the class lock. */
        int owners;
        volatile Job job;
        volatile long generation;
        volatile boolean stopped;
        volatile Thread activeCaller;
        volatile long lastUse = System.nanoTime();

        Pool(int threads) { this.threads = threads; }

        boolean inside() { return Thread.currentThread() == activeCaller; }

        void run(Job j) {
            lock.lock();
            try {
                Thread me = Thread.currentThread();
                j.caller = me;
                if (stopped) {
                    // shut down under a caller that picked it just before: the caller does every chunk itself
                    j.work();
                } else {
                    if (workers == null) {
                        workers = new Worker[threads - 1];
                        for (int i = 0; i < workers.length; i++) {
                            workers[i] = new Worker(this, "jdiffusion-compute-" + (i + 1) + "-of-" + threads);
                            workers[i].start();
                        }
                    }
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
                }
            } finally {
                job = null;
                activeCaller = null;
                lastUse = System.nanoTime();
                lock.unlock();
            }
            Throwable e = j.error;
            if (e instanceof RuntimeException re) throw re;
            if (e instanceof Error er) throw er;
            if (e != null) throw new RuntimeException(e);
        }

        /** Stops the threads (they finish the chunk they run); later loops given this pool run inline. */
        void shutdown() {
            stopped = true;
            Worker[] ws = workers;
            if (ws != null) for (Worker w : ws) LockSupport.unpark(w);
        }

        /** Stops this pool if no lease holds it and it has had no work for IDLE_MILLIS. */
        void retireIfIdle() {
            synchronized (Parallel.class) {
                if (owners > 0 || stopped || System.nanoTime() - lastUse < IDLE_MILLIS * 1_000_000L || !lock.tryLock()) return;
                try {
                    POOLS.remove(threads, this);
                    shutdown();
                } finally {
                    lock.unlock();
                }
            }
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
                        if (pool.generation == seen && !pool.stopped) LockSupport.parkNanos(pool, IDLE_MILLIS * 1_000_000L);
                        parked = false;
                        if (pool.generation == seen) pool.retireIfIdle();
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

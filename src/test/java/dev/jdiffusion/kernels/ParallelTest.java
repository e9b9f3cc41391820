package dev.jdiffusion.kernels;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parallel.forRange: exact coverage, grain, nesting, exceptions, thread-count changes. */
class ParallelTest {
    private final int saved = Parallel.threads();

    @AfterEach
    void restore() { Parallel.setThreads(saved); }

    @Test
    void coversEveryIndexOnceWithGrain() {
        for (int threads : new int[] {1, 2, 3, 5}) {
            Parallel.setThreads(threads);
            for (int n : new int[] {1, 2, 7, 64, 1001})
                for (int grain : new int[] {1, 4, 16}) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(n);
                    Parallel.forRange(n, grain, (s, e) -> {
                        assertTrue(s % grain == 0, "chunk start " + s + " not a multiple of grain " + grain);
                        for (int i = s; i < e; i++) hits.incrementAndGet(i);
                    });
                    for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "index " + i + " n=" + n + " threads=" + threads);
                }
        }
    }

    @Test
    void nestedLoopsRunInline() {
        Parallel.setThreads(2);
        AtomicIntegerArray hits = new AtomicIntegerArray(40);
        Parallel.forRange(4, (s, e) -> {
            for (int o = s; o < e; o++) {
                int base = o * 10;
                Parallel.forRange(10, (a, b) -> { for (int i = a; i < b; i++) hits.incrementAndGet(base + i); });
            }
        });
        for (int i = 0; i < 40; i++) assertEquals(1, hits.get(i));
    }

    @Test
    void exceptionsReachTheCaller() {
        Parallel.setThreads(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(100, (s, t) -> {
            if (s > 0) throw new IllegalStateException("boom");
        }));
        assertEquals("boom", e.getMessage());
        int[] sum = new int[1];
        Parallel.forRange(1, (s, t) -> sum[0] = 1); // the pool still works
        assertEquals(1, sum[0]);
        assertThrows(IllegalArgumentException.class, () -> Parallel.setThreads(0));
    }

    @Test void aBadThreadsPropertyIsAClearErrorWhereAPoolIsNeeded() {
        String saved = System.getProperty(Parallel.THREADS_PROPERTY);
        try {
            for (String bad : new String[]{"abc", "0", "-2", "2.5", "99999"}) {
                System.setProperty(Parallel.THREADS_PROPERTY, bad);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Parallel.lease(0));
                assertTrue(e.getMessage().contains("-Djdiffusion.threads=" + bad), e.getMessage());
            }
            System.setProperty(Parallel.THREADS_PROPERTY, " 3 ");
            try (Parallel.Lease l = Parallel.lease(0)) {
                assertEquals(3, l.threads());
                assertEquals(3, (int) l.call(Parallel::threads), "the lease's pool serves the calls it binds");
            }
        } finally {
            if (saved == null) System.clearProperty(Parallel.THREADS_PROPERTY);
            else System.setProperty(Parallel.THREADS_PROPERTY, saved);
        }
    }

    @Test void aPoolStartsOnFirstUseAndStopsWithItsLastLease() throws InterruptedException {
        Parallel.Lease a = Parallel.lease(7), b = Parallel.lease(7);
        assertEquals(0, workers(7), "a lease alone starts no thread");
        int[] sum = new int[1000];
        a.call(() -> { Parallel.forRange(1000, (s, e) -> { for (int i = s; i < e; i++) sum[i] = i; }); return null; });
        assertEquals(999, sum[999]);
        assertEquals(6, workers(7));
        a.close();
        a.close(); // once only
        assertEquals(6, workers(7), "the pool stopped while a lease still holds it");
        b.close();
        for (int i = 0; i < 100 && workers(7) > 0; i++) Thread.sleep(20);
        assertEquals(0, workers(7), "threads left after the last lease closed");
        assertThrows(IllegalStateException.class, () -> a.call(() -> 1));
    }

    static int workers(int size) {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet())
            if (t.isAlive() && t.isDaemon() && t.getName().startsWith("jdiffusion-compute-") && t.getName().endsWith("-of-" + size)) n++;
        return n;
    }
}

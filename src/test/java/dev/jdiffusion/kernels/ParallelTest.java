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
}

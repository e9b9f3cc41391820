package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.jdiffusion.pipeline.TinyModels.same;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A small load test: many threads share one {@link StableDiffusion}, some of their runs are cancelled; every run
 * that completes gives exactly the image the same request gives alone, and closing leaves no thread behind.
 */
class ConcurrencyTest {
    static final int THREADS = 8, PER_THREAD = 3;

    static GenerationRequest.Builder request(int thread, int k) {
        return GenerationRequest.builder(k % 2 == 0 ? "a red boat" : "a green hill").size(64, 64).steps(2)
                .sampler(k == 1 ? "euler" : "euler_a").seed(1000L * thread + k);
    }

    static Set<String> threadNames() {
        Set<String> s = new TreeSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet())
            if (t.isAlive() && !t.getName().startsWith("jdiffusion-compute-")) s.add(t.getName());
        return s;
    }

    @Test void sharedInstanceGivesEachCallerItsOwnImage() throws Exception {
        Set<String> before = threadNames();
        StableDiffusion sd = StableDiffusion.load(TinyModels.sd1());

        Tensor[][] reference = new Tensor[THREADS][PER_THREAD];
        long r0 = System.nanoTime();
        for (int t = 0; t < THREADS; t++)
            for (int k = 0; k < PER_THREAD; k++) reference[t][k] = sd.generate(request(t, k).build()).images().get(0);

        double refSecs = (System.nanoTime() - r0) / 1e9;
        System.out.printf("load test: %d references one after another in %.2fs, %.2f generations/s%n",
                THREADS * PER_THREAD, refSecs, THREADS * PER_THREAD / refSecs);

        // Which runs to cancel, and how: 0 = not, 1 = from its own listener at step 1, 2 = from another thread.
        Random rnd = new Random(42);
        int[][] how = new int[THREADS][PER_THREAD];
        for (int[] row : how) for (int k = 0; k < row.length; k++) row[k] = rnd.nextInt(5) == 0 ? 1 + rnd.nextInt(2) : 0;
        how[0][1] = 1;
        how[1][2] = 2;

        AtomicInteger completed = new AtomicInteger(), cancelled = new AtomicInteger();
        List<CancellationToken> external = new ArrayList<>();
        Set<String> failures = ConcurrentHashMap.newKeySet();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS, r -> new Thread(r, "load-test"));
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            List<CancellationToken> mine = new ArrayList<>();
            for (int k = 0; k < PER_THREAD; k++) {
                CancellationToken token = new CancellationToken();
                mine.add(token);
                if (how[t][k] == 2) external.add(token);
            }
            futures.add(pool.submit(() -> {
                start.await();
                for (int k = 0; k < PER_THREAD; k++) {
                    CancellationToken token = mine.get(k);
                    GenerationRequest.Builder b = request(thread, k).cancellation(token);
                    if (how[thread][k] == 1) b.progress(e -> token.cancel());
                    try {
                        Tensor img = sd.generate(b.build()).images().get(0);
                        if (how[thread][k] == 1) failures.add("run " + thread + "/" + k + " ignored its cancel");
                        if (!same(img, reference[thread][k])) failures.add("run " + thread + "/" + k + " differs from its reference");
                        completed.incrementAndGet();
                    } catch (CancellationException e) {
                        if (how[thread][k] == 0) failures.add("run " + thread + "/" + k + " was cancelled by nobody");
                        cancelled.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        long t0 = System.nanoTime();
        start.countDown();
        for (CancellationToken tok : external) {
            Thread.sleep(rnd.nextInt(30));
            tok.cancel();
        }
        for (Future<?> f : futures) f.get(120, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        System.out.printf("load test: %d threads x %d runs on one instance: %d completed, %d cancelled in %.2fs, %.2f generations/s%n",
                THREADS, PER_THREAD, completed.get(), cancelled.get(), secs, completed.get() / secs);
        if (!failures.isEmpty()) fail(String.join("\n", failures));
        assertEquals(THREADS * PER_THREAD, completed.get() + cancelled.get());
        assertTrue(cancelled.get() >= 1, "nothing was cancelled");

        sd.close();
        assertThrows(IllegalStateException.class, () -> sd.generate(request(0, 0).build()));
        Set<String> leaked = threadNames();
        leaked.removeAll(before);
        for (int i = 0; i < 50 && !leaked.isEmpty(); i++) { // threads that are ending
            Thread.sleep(20);
            leaked = threadNames();
            leaked.removeAll(before);
        }
        assertTrue(leaked.isEmpty(), "threads left after close: " + leaked);
    }

    @Test void closeWaitsForTheRunningGeneration() throws Exception {
        StableDiffusion sd = StableDiffusion.load(TinyModels.sd1());
        sd.generate(request(0, 0).build());
        Tensor reference = sd.generate(request(1, 1).steps(4).build()).images().get(0);
        CountDownLatch running = new CountDownLatch(1);
        AtomicInteger steps = new AtomicInteger();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Tensor> f = pool.submit(() -> sd.generate(request(1, 1).steps(4).progress(e -> {
                steps.incrementAndGet();
                running.countDown();
                try {
                    Thread.sleep(30);
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                }
            }).build()).images().get(0));
            assertTrue(running.await(30, TimeUnit.SECONDS));
            sd.close(); // blocks until the run ends
            assertEquals(4, steps.get(), "close returned while the generation was still running");
            assertTrue(same(reference, f.get()), "the run that close waited for was disturbed");
            assertThrows(IllegalStateException.class, () -> sd.generate(request(0, 0).build()));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test void closeCancelsTheQueuedGenerationsAtOnce() throws Exception {
        StableDiffusion sd = StableDiffusion.load(TinyModels.sd1());
        CountDownLatch running = new CountDownLatch(1), release = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            // the first run holds its turn until released; three more queue behind it
            Future<Tensor> first = pool.submit(() -> sd.generate(request(2, 0).steps(2).progress(e -> {
                running.countDown();
                try {
                    release.await();
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                }
            }).build()).images().get(0));
            assertTrue(running.await(30, TimeUnit.SECONDS));
            AtomicInteger queuedSteps = new AtomicInteger();
            List<Future<Tensor>> queued = new ArrayList<>();
            for (int i = 0; i < 3; i++)
                queued.add(pool.submit(() -> sd.generate(request(3, 0).progress(e -> queuedSteps.incrementAndGet()).build()).images().get(0)));
            Thread.sleep(200); // let them queue
            Thread closer = Thread.ofPlatform().start(sd::close);
            // the queued runs end without waiting for the running one
            for (Future<Tensor> f : queued) {
                java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                assertTrue(e.getCause() instanceof CancellationException && e.getCause().getMessage().contains("closed"), String.valueOf(e.getCause()));
            }
            assertEquals(0, queuedSteps.get(), "a queued generation ran after close");
            assertTrue(closer.isAlive(), "close did not wait for the running generation");
            release.countDown();
            assertEquals(3, first.get(30, TimeUnit.SECONDS).dim(0), "the running generation did not finish");
            closer.join(30_000);
            assertFalse(closer.isAlive());
            assertThrows(IllegalStateException.class, () -> sd.generate(request(0, 0).build()));
        } finally {
            release.countDown();
            pool.shutdownNow();
        }
    }

    @Test void closingTheLastModelStopsItsComputeThreads() throws Exception {
        // a size no other test uses, so this pool is this test's alone
        StableDiffusion a = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withThreads(5));
        StableDiffusion b = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withThreads(5));
        a.generate(request(0, 0).build());
        assertEquals(4, poolThreads(5), "a pool of 5 runs 4 workers beside the caller");
        a.close();
        b.generate(request(0, 0).build());
        assertEquals(4, poolThreads(5), "the pool stopped while another model still uses it");
        b.close();
        for (int i = 0; i < 100 && poolThreads(5) > 0; i++) Thread.sleep(20);
        assertEquals(0, poolThreads(5), "compute threads left after the last model closed");
    }

    /** Live worker threads of the pool of this many threads (named jdiffusion-compute-K-of-N). */
    static int poolThreads(int size) {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet())
            if (t.isAlive() && t.isDaemon() && t.getName().startsWith("jdiffusion-compute-") && t.getName().endsWith("-of-" + size)) n++;
        return n;
    }
}

package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.StableDiffusion;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 8 concurrent clients x 5 requests against the tiny golden model, some of them cancelled (the client drops the
 * connection while its job waits or runs) or interrupted: every image that comes back equals its solo run, the queue
 * drains, no thread is left behind and the heap does not grow. Prints p50/p95 latency. (A dropped client's job
 * leaves the queue when the server next writes to it, within a heartbeat, so the queue is sized for them.)
 */
class ServerLoadTest {
    static final int CLIENTS = 8, PER_CLIENT = 5;
    static final String[] PROMPTS = {"a red boat", "a green hill", "a small house by a lake"};
    static final String[] SAMPLERS = {"Euler", "Euler a", "DDIM"};

    static ObjectNode request(int client, int k) {
        ObjectNode o = Http.txt2img(PROMPTS[(client + k) % PROMPTS.length], 1000L * client + k, 2 + (client + k) % 2);
        o.put("sampler_name", SAMPLERS[(client * 7 + k) % SAMPLERS.length]);
        return o;
    }

    static Set<String> threads() {
        Set<String> s = new TreeSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet())
            if (t.isAlive() && !t.getName().startsWith("jdiffusion-compute-")) s.add(t.getName());
        return s;
    }

    static long usedHeapAfterGc() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return rt.totalMemory() - rt.freeMemory();
    }

    @Test void concurrentClientsWithCancelsGetTheirSoloImages() throws Exception {
        Set<String> threadsBefore = threads();
        ServerConfig cfg = ServerConfig.of(Golden.resolve("models/tiny-sd1")).withPort(0).withQueue(4 * CLIENTS)
                .withShutdownTimeout(Duration.ofSeconds(10));
        ApiServer server = ApiServer.start(cfg, null);
        int port = server.port();
        // warm-up, then the heap baseline
        assertEquals(200, Http.post(port, "/sdapi/v1/txt2img", request(0, 0)).status());
        long heapBefore = usedHeapAfterGc();

        // 0 = plain, 1 = drop the connection after a random delay, 2 = drop at once, 3 = plain plus an /interrupt
        Random rnd = new Random(20);
        int[][] action = new int[CLIENTS][PER_CLIENT];
        for (int[] row : action) for (int k = 0; k < row.length; k++) { int x = rnd.nextInt(10); row[k] = x < 6 ? 0 : x < 8 ? 1 : x < 9 ? 2 : 3; }
        action[1][1] = 1;
        action[2][3] = 2;
        action[3][2] = 3;

        Map<String, String> images = new ConcurrentHashMap<>(); // "client/k/i" -> base64 PNG
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger completed = new AtomicInteger(), dropped = new AtomicInteger(), interrupted = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS, r -> new Thread(r, "load-client"));
        List<Future<?>> futures = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int c = 0; c < CLIENTS; c++) {
            int client = c;
            futures.add(pool.submit(() -> {
                Random r = new Random(client);
                for (int k = 0; k < PER_CLIENT; k++) {
                    byte[] body = Http.JSON.writeValueAsBytes(request(client, k));
                    long start = System.nanoTime();
                    if (action[client][k] == 1 || action[client][k] == 2) {
                        try (Socket s = Http.open(port)) {
                            Http.write(s, "POST", "/sdapi/v1/txt2img", body, Map.of("Content-Type", "application/json"));
                            if (action[client][k] == 1) Thread.sleep(r.nextInt(400));
                            s.setSoLinger(true, 0);
                        }
                        dropped.incrementAndGet();
                        continue;
                    }
                    if (action[client][k] == 3)
                        Thread.ofVirtual().start(() -> {
                            try {
                                Thread.sleep(50 + r.nextInt(200));
                                Http.post(port, "/sdapi/v1/interrupt", null);
                            } catch (Exception ignored) { /* best effort */ }
                        });
                    Http.Response resp = Http.post(port, "/sdapi/v1/txt2img", Http.JSON.readTree(body));
                    assertEquals(200, resp.status(), resp.text());
                    JsonNode j = resp.json();
                    JsonNode info = Http.JSON.readTree(j.get("info").asText());
                    if (info.get("interrupted").asBoolean()) interrupted.incrementAndGet();
                    else {
                        latencies.add(System.nanoTime() - start);
                        completed.incrementAndGet();
                    }
                    for (int i = 0; i < j.get("images").size(); i++) images.put(client + "/" + k + "/" + i, j.get("images").get(i).asText());
                }
                return null;
            }));
        }
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.MINUTES), "the load finished in time");
        for (Future<?> f : futures) f.get();
        double wall = (System.nanoTime() - t0) / 1e9;

        // the queue drains: the dropped jobs were cancelled or finished, nothing waits
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!Http.get(port, "/sdapi/v1/progress").json().get("state").get("job").asText().isEmpty() && System.nanoTime() < deadline)
            Thread.sleep(50);
        JsonNode health = Http.get(port, "/health").json();
        assertEquals("ready", health.get("status").asText());
        assertEquals(0, health.get("queue_length").asInt());
        String metrics = Http.get(port, "/metrics").text();
        long heapAfter = usedHeapAfterGc();
        server.shutdown();

        // every image equals its solo run
        try (StableDiffusion solo = StableDiffusion.load(Golden.resolve("models/tiny-sd1"))) {
            for (Map.Entry<String, String> e : images.entrySet()) {
                String[] id = e.getKey().split("/");
                ObjectNode q = request(Integer.parseInt(id[0]), Integer.parseInt(id[1]));
                byte[] expected = Images.toUint8(solo.generate(GenerationRequest.builder(q.get("prompt").asText()).size(64, 64)
                        .steps(q.get("steps").asInt()).sampler(A1111.sampler(q.get("sampler_name").asText(), null, null))
                        .seed(q.get("seed").asLong()).build()).images().get(0));
                assertArrayEquals(expected, Images.toUint8(Http.pixels(e.getValue())), "image " + e.getKey());
            }
        }
        List<Long> sorted = new ArrayList<>(latencies);
        Collections.sort(sorted);
        System.out.printf(Locale.ROOT, "server load: %d clients x %d requests in %.1fs: %d completed, %d dropped by the client, %d interrupted; "
                        + "%d images, all equal to their solo runs; latency p50 %.0f ms, p95 %.0f ms; heap after GC %+.1f MB%n",
                CLIENTS, PER_CLIENT, wall, completed.get(), dropped.get(), interrupted.get(), images.size(),
                percentile(sorted, 0.50) / 1e6, percentile(sorted, 0.95) / 1e6, (heapAfter - heapBefore) / 1e6);
        System.out.println(Arrays.stream(metrics.split("\n")).filter(l -> l.startsWith("jdiffusion_jobs_total")).toList());
        assertTrue(completed.get() >= 20, "most requests completed: " + completed.get());
        assertTrue(images.size() >= completed.get(), "every completed request brought its image");
        assertTrue(heapAfter - heapBefore < 64L << 20, "heap grew by " + (heapAfter - heapBefore) / 1e6 + " MB");

        // no thread left behind (the HTTP handlers are virtual threads the server's executor awaited)
        deadline = System.nanoTime() + 10_000_000_000L;
        Set<String> extra = new TreeSet<>(threads());
        while (!threadsBefore.containsAll(extra) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            extra = new TreeSet<>(threads());
        }
        extra.removeAll(threadsBefore);
        assertEquals(Set.of(), extra, "threads left after shutdown");
    }

    static double percentile(List<Long> sorted, double p) {
        if (sorted.isEmpty()) return Double.NaN;
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }
}

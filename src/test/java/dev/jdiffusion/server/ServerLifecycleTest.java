package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** API key, CORS, the full queue's 503, graceful shutdown in process and on SIGTERM. */
class ServerLifecycleTest {
    static Path tiny() { return Golden.resolve("models/tiny-sd1"); }

    /** A request that runs for a while on the tiny model (it is interrupted or waited for, never timed). */
    static ObjectNode slow() {
        ObjectNode o = Http.txt2img("slow", 9, 30);
        o.put("width", 128);
        o.put("height", 128);
        return o;
    }

    static CompletableFuture<Http.Response> async(int port, ObjectNode body, Map<String, String> headers) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                Map<String, String> h = new java.util.HashMap<>(headers);
                h.put("Content-Type", "application/json");
                return Http.send(port, "POST", "/sdapi/v1/txt2img", Http.JSON.writeValueAsBytes(body), h);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofVirtual().start(r));
    }

    static void awaitRunning(int port, Map<String, String> headers) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            JsonNode p = Http.send(port, "GET", "/sdapi/v1/progress", null, headers).json();
            if (p.get("state").get("sampling_step").asInt() >= 1) return;
            Thread.sleep(20);
        }
        throw new AssertionError("the job never started");
    }

    @Test void apiKeyCorsAndAFullQueue() throws Exception {
        ServerConfig cfg = ServerConfig.of(tiny()).withPort(0).withApiKey("s3cret").withCors("http://app.example").withQueue(0)
                .withShutdownTimeout(Duration.ofSeconds(5));
        try (ApiServer server = ApiServer.start(cfg, null)) {
            int port = server.port();
            Http.Response none = Http.get(port, "/sdapi/v1/options");
            assertEquals(401, none.status());
            assertNotNull(none.header("WWW-Authenticate"));
            assertEquals(401, Http.send(port, "GET", "/sdapi/v1/options", null, Map.of("Authorization", "Bearer nope")).status());
            Map<String, String> key = Map.of("Authorization", "Bearer s3cret");
            assertEquals(200, Http.send(port, "GET", "/sdapi/v1/options", null, key).status());
            assertEquals(200, Http.send(port, "GET", "/sdapi/v1/options", null, Map.of("X-API-Key", "s3cret")).status());
            String basic = "Basic " + Base64.getEncoder().encodeToString("user:s3cret".getBytes(StandardCharsets.UTF_8));
            assertEquals(200, Http.send(port, "GET", "/sdapi/v1/options", null, Map.of("Authorization", basic)).status());
            assertEquals(200, Http.get(port, "/health").status(), "health needs no key");
            assertEquals(200, Http.get(port, "/").status(), "the page needs no key (it asks for one)");

            Http.Response allowed = Http.send(port, "GET", "/sdapi/v1/samplers", null, Map.of("Authorization", "Bearer s3cret", "Origin", "http://app.example"));
            assertEquals("http://app.example", allowed.header("Access-Control-Allow-Origin"));
            Http.Response other = Http.send(port, "GET", "/sdapi/v1/samplers", null, Map.of("Authorization", "Bearer s3cret", "Origin", "http://evil.example"));
            assertNull(other.header("Access-Control-Allow-Origin"));
            Http.Response pre = Http.send(port, "OPTIONS", "/sdapi/v1/txt2img", null, Map.of("Origin", "http://app.example",
                    "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type"));
            assertEquals(204, pre.status());
            assertTrue(pre.header("Access-Control-Allow-Headers").contains("Authorization"));

            // --queue 0: while one job runs, the next is refused with a Retry-After
            CompletableFuture<Http.Response> running = async(port, slow(), key);
            awaitRunning(port, key);
            Http.Response full = Http.send(port, "POST", "/sdapi/v1/txt2img", Http.JSON.writeValueAsBytes(Http.txt2img("x", 1, 1)),
                    Map.of("Authorization", "Bearer s3cret", "Content-Type", "application/json"));
            assertEquals(503, full.status(), full.text());
            assertTrue(Integer.parseInt(full.header("Retry-After")) >= 1);
            assertEquals("QueueFull", full.json().get("error").asText());
            assertEquals(200, Http.send(port, "POST", "/sdapi/v1/interrupt", null, key).status());
            Http.Response r = running.get(60, TimeUnit.SECONDS);
            assertEquals(200, r.status());
            assertTrue(Http.JSON.readTree(r.json().get("info").asText()).get("interrupted").asBoolean());
            assertTrue(Http.get(port, "/metrics").status() == 401, "metrics need the key too");
            assertTrue(Http.send(port, "GET", "/metrics", null, key).text().contains("jdiffusion_rejected_total{reason=\"queue_full\"} 1"));
        }
    }

    @Test void shutdownFinishesTheRunningJobAndRefusesNewOnes() throws Exception {
        ApiServer server = ApiServer.start(ServerConfig.of(tiny()).withPort(0).withShutdownTimeout(Duration.ofSeconds(60)), null);
        int port = server.port();
        CompletableFuture<Http.Response> running = async(port, slow(), Map.of());
        awaitRunning(port, Map.of());
        Thread stopper = Thread.ofVirtual().start(server::shutdown);
        long deadline = System.nanoTime() + 10_000_000_000L;
        // Post only once the shutdown has begun (health turns 503): a post racing ahead of it was queued as a job,
        // and by the time that job returned the listener was closed (connection refused, seen in CI).
        while (System.nanoTime() < deadline && Http.get(port, "/health").status() != 503) Thread.sleep(5);
        Http.Response refused = null;
        while (System.nanoTime() < deadline) {
            refused = Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("late", 1, 1));
            if (refused.status() == 503) break;
            Thread.sleep(20);
        }
        assertEquals(503, refused.status(), refused.text());
        assertEquals("ShuttingDown", refused.json().get("error").asText());
        assertEquals(503, Http.get(port, "/health").status(), "health says stopping");
        Http.Response r = running.get(120, TimeUnit.SECONDS);
        assertEquals(200, r.status());
        assertEquals(1, r.json().get("images").size(), "the running job finished: " + r.text().substring(0, Math.min(200, r.text().length())));
        stopper.join(Duration.ofSeconds(60));
        assertFalse(stopper.isAlive());
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("jdiffusion-server-worker")));
        try (Socket s = new Socket()) {
            assertThrowsConnect(s, port);
        }
    }

    static void assertThrowsConnect(Socket s, int port) {
        try {
            s.connect(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port), 2000);
            throw new AssertionError("the port still accepts connections after shutdown");
        } catch (IOException expected) {
            // refused: the listener is closed
        }
    }

    /** {@code jdiffusion serve} as its own process: SIGTERM lets the running job finish, then the process exits (143). */
    @Test @EnabledOnOs({OS.LINUX, OS.MAC}) void sigtermIsAGracefulShutdown() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Xss8m", "-Xmx1g", "-XX:+UseParallelGC", "-cp", System.getProperty("java.class.path"), "dev.jdiffusion.cli.Main",
                "serve", "-m", tiny().toString(), "--port", "0", "--shutdown-timeout", "60"));
        Path log = Files.createTempFile("serve", ".log");
        Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (IOException e) {
                    return null;
                }
            }).get(120, TimeUnit.SECONDS);
            assertNotNull(line, "the server printed its address");
            Matcher m = Pattern.compile("http://127\\.0\\.0\\.1:(\\d+)/").matcher(line);
            assertTrue(m.find(), line);
            int port = Integer.parseInt(m.group(1));
            assertEquals(200, Http.get(port, "/health").status());
            CompletableFuture<Http.Response> running = async(port, slow(), Map.of());
            awaitRunning(port, Map.of());
            p.destroy(); // SIGTERM
            Http.Response r = running.get(120, TimeUnit.SECONDS);
            assertEquals(200, r.status());
            assertEquals(1, r.json().get("images").size());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the process ended");
            assertEquals(143, p.exitValue(), "the JVM's status for an orderly exit on SIGTERM (128 + 15)");
            String err = Files.readString(log);
            assertTrue(err.contains("shutting down"), err);
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }
}

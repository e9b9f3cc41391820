package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket from java.net.http), on loopback only: enough to
 * load a page, run JavaScript in it, and take screenshots.
 */
final class Cdp implements AutoCloseable {
    private final Process process;
    private final HttpClient http;
    private final WebSocket ws;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

    /** The Chromium executable: $CHROMIUM, else chromium / chromium-browser / google-chrome on the PATH, else null. */
    static Path find() {
        String env = System.getenv("CHROMIUM");
        if (env != null && Files.isExecutable(Path.of(env))) return Path.of(env);
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
            for (String name : List.of("chromium", "chromium-browser", "google-chrome"))
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) return Path.of(dir, name);
        return null;
    }

    Cdp(Path chromium, Path profile) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"));
        // Chromium puts its singleton socket folder in TMPDIR and leaves it there when stopped: keep it in the profile
        Path tmp = Files.createDirectories(profile.resolve("tmp"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("TMPDIR", tmp.toString());
        process = pb.start();
        BufferedReader err = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
        String browserWs = CompletableFuture.supplyAsync(() -> {
            try {
                for (String l = err.readLine(); l != null; l = err.readLine()) {
                    Matcher m = Pattern.compile("DevTools listening on (ws://\\S+)").matcher(l);
                    if (m.find()) return m.group(1);
                }
            } catch (IOException ignored) { /* below */ }
            return null;
        }).get(60, TimeUnit.SECONDS);
        if (browserWs == null) throw new IOException("chromium did not start its DevTools endpoint");
        Thread.ofVirtual().start(() -> { // keep draining chromium's log so it never blocks
            try {
                while (err.readLine() != null) { /* discard */ }
            } catch (IOException ignored) { /* gone */ }
        });
        URI b = URI.create(browserWs);
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        String list = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.getPort() + "/json/list")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        String pageWs = null;
        for (JsonNode t : Http.JSON.readTree(list)) if (t.path("type").asText().equals("page")) pageWs = t.get("webSocketDebuggerUrl").asText();
        if (pageWs == null) throw new IOException("no page target in " + list);
        ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10)).buildAsync(URI.create(pageWs), new WebSocket.Listener() {
            final StringBuilder buf = new StringBuilder();

            @Override public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                buf.append(data);
                if (last) {
                    try {
                        JsonNode msg = Http.JSON.readTree(buf.toString());
                        CompletableFuture<JsonNode> f = msg.has("id") ? pending.remove(msg.get("id").asInt()) : null;
                        if (f != null) f.complete(msg);
                    } catch (IOException ignored) { /* not for us */ }
                    buf.setLength(0);
                }
                w.request(1);
                return null;
            }
        }).get(20, TimeUnit.SECONDS);
    }

    /** Sends a DevTools command and waits for its result. */
    JsonNode call(String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        ObjectNode msg = Http.JSON.createObjectNode();
        msg.put("id", id);
        msg.put("method", method);
        msg.set("params", Http.JSON.valueToTree(params));
        CompletableFuture<JsonNode> f = new CompletableFuture<>();
        pending.put(id, f);
        ws.sendText(Http.JSON.writeValueAsString(msg), true).get(10, TimeUnit.SECONDS);
        JsonNode reply = f.get(60, TimeUnit.SECONDS);
        if (reply.has("error")) throw new IOException(method + ": " + reply.get("error"));
        return reply.get("result");
    }

    /** Evaluates a JavaScript expression in the page (awaiting promises) and returns its value. */
    JsonNode eval(String js) throws Exception {
        JsonNode r = call("Runtime.evaluate", Map.of("expression", js, "returnByValue", true, "awaitPromise", true));
        if (r.has("exceptionDetails")) throw new AssertionError("page script failed: " + r.get("exceptionDetails"));
        return r.path("result").path("value");
    }

    /** Polls a JavaScript condition until it is true (bounded). */
    void await(String condition, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (eval("!!(" + condition + ")").asBoolean()) return;
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for " + condition);
    }

    void viewport(int width, int height, boolean mobile) throws Exception {
        call("Emulation.setDeviceMetricsOverride", Map.of("width", width, "height", height, "deviceScaleFactor", 1, "mobile", mobile));
    }

    byte[] screenshot() throws Exception {
        return java.util.Base64.getDecoder().decode(call("Page.captureScreenshot", Map.of("format", "png")).get("data").asText());
    }

    @Override public void close() {
        try {
            if (ws != null) ws.abort();
        } finally {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            if (http != null) http.close();
        }
    }
}

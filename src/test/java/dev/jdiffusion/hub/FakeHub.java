package dev.jdiffusion.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1 (ephemeral ports): the model-info API with
 * {@code ?blobs=true}, {@code resolve/} URLs that redirect LFS files to a second "CDN" server (another
 * host:port, as the real hub does), Range requests, and fault injection (cut a transfer, lie about a checksum).
 */
public final class FakeHub implements AutoCloseable {
    /** One request as the servers saw it. */
    public record Request(String server, String path, String query, String range, String authorization) {}

    public static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    private final HttpServer hub, cdn;
    private final ExecutorService pool;
    private final Map<String, Integer> stallAfter = new ConcurrentHashMap<>();
    private final String repo;
    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Map<String, Boolean> lfs = new LinkedHashMap<>();
    private final Map<String, String> fakeSha = new ConcurrentHashMap<>();
    private final Map<String, Integer> cutAfter = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> cutTimes = new ConcurrentHashMap<>();
    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());

    public FakeHub(String repo) throws IOException {
        this.repo = repo;
        hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        cdn = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/", this::hub);
        cdn.createContext("/", this::cdn);
        pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-hub");
            t.setDaemon(true);
            return t;
        });
        hub.setExecutor(pool);
        cdn.setExecutor(pool);
        hub.start();
        cdn.start();
    }

    /** Adds a file; LFS files are served through the CDN redirect and listed with a sha256. */
    public FakeHub file(String path, byte[] content, boolean isLfs) {
        files.put(path, content);
        lfs.put(path, isLfs);
        return this;
    }

    /** The listing claims this sha256 for the file (a corrupted upload / transfer). */
    public void lieAboutSha256(String path) { fakeSha.put(path, "ab".repeat(32)); }

    /** The next {@code times} full (non-range) transfers of path stop after n bytes. */
    public void cut(String path, int n, int times) {
        cutAfter.put(path, n);
        cutTimes.put(path, new AtomicInteger(times));
    }

    /** Full transfers of path send n bytes and then nothing more (for 30 s), keeping the connection open. */
    public void stall(String path, int n) { stallAfter.put(path, n); }

    public String endpoint() { return "http://127.0.0.1:" + hub.getAddress().getPort(); }

    public byte[] content(String path) { return files.get(path); }

    private void record(String server, HttpExchange ex) {
        requests.add(new Request(server, ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(),
                ex.getRequestHeaders().getFirst("Range"), ex.getRequestHeaders().getFirst("Authorization")));
    }

    private void hub(HttpExchange ex) throws IOException {
        record("hub", ex);
        String p = ex.getRequestURI().getRawPath();
        String api = "/api/models/" + repo + "/revision/";
        String resolve = "/" + repo + "/resolve/";
        if (p.startsWith(api)) {
            send(ex, 200, listing().getBytes(StandardCharsets.UTF_8), "application/json");
        } else if (p.startsWith(resolve)) {
            String rest = p.substring(resolve.length());
            String path = rest.substring(rest.indexOf('/') + 1);
            if (!files.containsKey(path)) {
                send(ex, 404, "Entry not found".getBytes(StandardCharsets.UTF_8), "text/plain");
            } else if (lfs.get(path)) {
                ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/blobs/" + path);
                ex.sendResponseHeaders(302, -1);
                ex.close();
            } else {
                serve(ex, path);
            }
        } else {
            send(ex, 404, "{\"error\":\"Repository not found\"}".getBytes(StandardCharsets.UTF_8), "application/json");
        }
    }

    private void cdn(HttpExchange ex) throws IOException {
        record("cdn", ex);
        String path = ex.getRequestURI().getRawPath().substring("/blobs/".length());
        if (!files.containsKey(path)) send(ex, 404, new byte[0], "text/plain");
        else serve(ex, path);
    }

    private void serve(HttpExchange ex, String path) throws IOException {
        byte[] c = files.get(path);
        String range = ex.getRequestHeaders().getFirst("Range");
        if (range != null && range.matches("bytes=\\d+-")) {
            int from = Integer.parseInt(range.substring(6, range.length() - 1));
            if (from >= c.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + c.length);
                ex.sendResponseHeaders(416, -1);
                ex.close();
                return;
            }
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (c.length - 1) + "/" + c.length);
            ex.sendResponseHeaders(206, c.length - from);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(c, from, c.length - from);
            }
            return;
        }
        Integer stallAt = stallAfter.get(path);
        if (stallAt != null) {
            ex.sendResponseHeaders(200, c.length);
            OutputStream o = ex.getResponseBody();
            o.write(c, 0, stallAt);
            o.flush();
            try {
                Thread.sleep(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("fake hub: stalled transfer ends");
        }
        AtomicInteger left = cutTimes.get(path);
        if (left != null && left.getAndDecrement() > 0) {
            int n = cutAfter.get(path);
            ex.sendResponseHeaders(200, c.length);
            OutputStream o = ex.getResponseBody();
            o.write(c, 0, n);
            o.flush();
            // Drop the connection in the middle of the body: the server closes a connection whose handler throws.
            throw new IOException("fake hub: connection cut after " + n + " bytes");
        }
        send(ex, 200, c, "application/octet-stream");
    }

    private static void send(HttpExchange ex, int code, byte[] body, String type) throws IOException {
        ex.getResponseHeaders().add("Content-Type", type);
        ex.sendResponseHeaders(code, body.length == 0 ? -1 : body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    private String listing() {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        root.put("id", repo);
        root.put("sha", COMMIT);
        ArrayNode sib = root.putArray("siblings");
        files.forEach((path, c) -> {
            ObjectNode s = sib.addObject();
            s.put("rfilename", path);
            s.put("size", c.length);
            if (lfs.get(path)) {
                s.put("blobId", sha("SHA-1", c, null));
                ObjectNode l = s.putObject("lfs");
                l.put("sha256", fakeSha.getOrDefault(path, sha("SHA-256", c, null)));
                l.put("size", c.length);
                l.put("pointerSize", 134);
            } else {
                s.put("blobId", sha("SHA-1", c, ("blob " + c.length + "\0").getBytes(StandardCharsets.US_ASCII)));
            }
        });
        sib.addObject().put("rfilename", "../escape.json").put("size", 2);
        return root.toString();
    }

    static String sha(String alg, byte[] c, byte[] prefix) {
        try {
            MessageDigest md = MessageDigest.getInstance(alg);
            if (prefix != null) md.update(prefix);
            return HexFormat.of().formatHex(md.digest(c));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override public void close() {
        hub.stop(0);
        cdn.stop(0);
        pool.shutdownNow();
    }
}

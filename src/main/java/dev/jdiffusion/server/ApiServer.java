package dev.jdiffusion.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code jdiffusion serve}: the AUTOMATIC1111 web UI's HTTP API (the endpoints most clients use) and a small web
 * page, on the JDK's {@code com.sun.net.httpserver} with one virtual thread per exchange. A client of the public
 * {@code StableDiffusion} API like any embedding application: it adds HTTP, JSON and a queue ({@link Worker}).
 *
 * <p>While a generation waits or runs, its response is already under way: the server sends a space (JSON allows
 * leading whitespace) every {@value #HEARTBEAT_MS} ms, which is how it notices a client that went away and cancels
 * that client's job. Errors found before the first heartbeat get their own status; later ones (rare: everything
 * the server can check is checked before queueing) come as the error JSON in a 200 response.
 */
public final class ApiServer implements AutoCloseable {
    static final int HEARTBEAT_MS = 250;
    private static final Map<String, String[]> STATIC = Map.of(
            "/", new String[]{"index.html", "text/html; charset=utf-8"},
            "/app.js", new String[]{"app.js", "text/javascript; charset=utf-8"},
            "/app.css", new String[]{"app.css", "text/css; charset=utf-8"});

    private final ServerConfig config;
    private final Catalog catalog;
    private final Metrics metrics = new Metrics();
    private final Worker worker;
    private final HttpServer http;
    private final ExecutorService executor;
    private final ObjectMapper json;
    private final PrintStream log;
    private final boolean loopback;
    private volatile boolean stopping;
    private final Object previewLock = new Object();
    private int previewKey = -1;
    private Job previewJob;
    private String previewPng;

    private ApiServer(ServerConfig config, PrintStream log) throws IOException {
        this.config = config;
        this.log = log;
        this.catalog = new Catalog(config.model(), config.modelsDir(), config.loraDir());
        this.worker = new Worker(config, catalog, metrics);
        this.json = new ObjectMapper(JsonFactory.builder().streamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength((int) Math.min(Integer.MAX_VALUE - 16, config.maxBodyBytes())).build()).build());
        InetAddress addr = InetAddress.getByName(config.host());
        this.loopback = addr.isLoopbackAddress();
        this.http = HttpServer.create(new InetSocketAddress(addr, config.port()), 64);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("jdiffusion-http-", 0).factory());
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /**
     * Binds, then loads the start model (while it loads, {@code /health} answers 503 "loading") and starts serving.
     *
     * @param log where to print one line per request and errors, or null
     * @throws IOException the address cannot be bound
     * @throws RuntimeException the model cannot be loaded (the server is stopped again)
     */
    public static ApiServer start(ServerConfig config, PrintStream log) throws IOException {
        ApiServer s = new ApiServer(config, log);
        s.http.start();
        try {
            s.worker.start();
        } catch (RuntimeException | Error e) {
            s.http.stop(0);
            s.executor.shutdownNow();
            throw e;
        }
        return s;
    }

    /** The port bound (useful with port 0). */
    public int port() { return http.getAddress().getPort(); }

    /** The base URI, e.g. http://127.0.0.1:7860/. */
    public URI uri() {
        String h = http.getAddress().getAddress().getHostAddress();
        if (h.contains(":")) h = "[" + h + "]";
        return URI.create("http://" + h + ":" + port() + "/");
    }

    /**
     * Graceful shutdown: new jobs get 503, queued and running ones have {@link ServerConfig#shutdownTimeout()} to
     * finish (then they are cancelled), responses under way are sent, and the model is closed.
     */
    public void shutdown() {
        if (stopping) return;
        stopping = true;
        worker.shutdown(config.shutdownTimeout());
        http.stop(2);
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) executor.shutdownNow();
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    @Override public void close() { shutdown(); }

    // ------------------------------------------------------------------------------------------------ dispatch

    private void handle(HttpExchange ex) {
        long t0 = System.nanoTime();
        metrics.requests.incrementAndGet();
        String method = ex.getRequestMethod(), path = ex.getRequestURI().getPath();
        int status = 0;
        try {
            checkHost(ex);
            if (method.equals("OPTIONS")) {
                status = preflight(ex);
                return;
            }
            if (!STATIC.containsKey(path) && !path.equals("/health") && !path.equals("/favicon.ico")) checkKey(ex);
            status = route(ex, method, path);
        } catch (HttpError e) {
            status = e.status;
            sendError(ex, e);
        } catch (IOException e) {
            status = -1; // the client went away
        } catch (RuntimeException e) {
            status = 500;
            if (log != null) log.println("serve: " + method + " " + path + ": internal error: " + e);
            sendError(ex, new HttpError(500, "InternalError", e.getClass().getSimpleName() + ": " + e.getMessage()));
        } finally {
            ex.close();
            if (log != null && (status >= 400 || path.startsWith("/sdapi/v1/txt2img") || path.startsWith("/sdapi/v1/img2img")))
                log.printf(Locale.ROOT, "serve: %s %s %s %.2fs%n", method, path, status < 0 ? "client gone" : String.valueOf(status),
                        (System.nanoTime() - t0) / 1e9);
        }
    }

    private int route(HttpExchange ex, String method, String path) throws IOException {
        if (STATIC.containsKey(path)) {
            requireMethod(method, "GET", "HEAD");
            String[] r = STATIC.get(path);
            try (InputStream in = ApiServer.class.getResourceAsStream(r[0])) {
                if (in == null) throw new HttpError(404, "NotFound", "the web page is missing from this build");
                ex.getResponseHeaders().set("Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'");
                ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
                ex.getResponseHeaders().set("Cache-Control", "no-cache");
                return send(ex, 200, r[1], in.readAllBytes());
            }
        }
        switch (path) {
            case "/health" -> {
                requireMethod(method, "GET", "HEAD");
                ObjectNode o = json.createObjectNode();
                boolean ready = worker.ready() && !stopping;
                o.put("status", stopping ? "stopping" : ready ? "ready" : "loading");
                Catalog.Entry m = worker.loaded();
                o.put("model", m == null ? null : m.title());
                o.put("queue_length", worker.queued());
                return sendJson(ex, ready ? 200 : 503, o);
            }
            case "/metrics" -> {
                requireMethod(method, "GET");
                String text = metrics.render(worker::queued, () -> worker.running() == null ? 0 : 1, worker.ready());
                return send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", text.getBytes(StandardCharsets.UTF_8));
            }
            case "/sdapi/v1/txt2img", "/sdapi/v1/img2img" -> {
                requireMethod(method, "POST");
                if (stopping) throw new HttpError(503, "ShuttingDown", "the server is shutting down", null, Map.of("Retry-After", "30"));
                boolean img2img = path.endsWith("img2img");
                ObjectNode body = readJson(ex);
                Map<String, java.nio.file.Path> loras = catalog.loras();
                A1111.Spec spec = A1111.parse(body, img2img, config, loras.keySet());
                if (spec.model() != null) catalog.find(spec.model());
                worker.precheck(spec);
                Job job = Job.generate(spec, img2img);
                worker.submit(job);
                return respondWhenDone(ex, job);
            }
            case "/sdapi/v1/progress" -> {
                requireMethod(method, "GET");
                String q = ex.getRequestURI().getQuery();
                boolean skipImage = q != null && q.matches("(^|.*&)skip_current_image=(true|1)(&.*|$)");
                return sendJson(ex, 200, progress(skipImage));
            }
            case "/sdapi/v1/interrupt" -> {
                requireMethod(method, "POST");
                Job j = worker.running();
                if (j != null && j.kind == Job.Kind.GENERATE) worker.stop(j, Job.Stop.INTERRUPTED);
                return sendJson(ex, 200, json.createObjectNode());
            }
            case "/sdapi/v1/skip" -> {
                requireMethod(method, "POST");
                Job j = worker.running();
                if (j != null && j.kind == Job.Kind.GENERATE) j.skipCurrent();
                return sendJson(ex, 200, json.createObjectNode());
            }
            case "/sdapi/v1/sd-models" -> {
                requireMethod(method, "GET");
                ArrayNode a = json.createArrayNode();
                for (Catalog.Entry e : catalog.models()) {
                    ObjectNode o = a.addObject();
                    o.put("title", e.title());
                    o.put("model_name", e.name());
                    o.putNull("hash");
                    o.putNull("sha256");
                    o.put("filename", e.path().toAbsolutePath().toString());
                    o.putNull("config");
                }
                return sendJson(ex, 200, a);
            }
            case "/sdapi/v1/samplers" -> {
                requireMethod(method, "GET");
                ArrayNode a = json.createArrayNode();
                A1111.SAMPLERS.forEach((name, engine) -> {
                    ObjectNode o = a.addObject();
                    o.put("name", name);
                    o.putArray("aliases").add(engine);
                    o.putObject("options");
                });
                return sendJson(ex, 200, a);
            }
            case "/sdapi/v1/loras" -> {
                requireMethod(method, "GET");
                ArrayNode a = json.createArrayNode();
                catalog.loras().forEach((name, p) -> {
                    ObjectNode o = a.addObject();
                    o.put("name", name);
                    o.put("alias", name);
                    o.put("path", p.toAbsolutePath().toString());
                    o.putObject("metadata");
                });
                return sendJson(ex, 200, a);
            }
            case "/sdapi/v1/options" -> {
                requireMethod(method, "GET", "POST");
                if (method.equals("GET")) return sendJson(ex, 200, options());
                ObjectNode body = readJson(ex);
                ObjectNode out = json.createObjectNode();
                ArrayNode warnings = json.createArrayNode();
                String switchTo = null;
                for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> f = it.next();
                    if (f.getKey().equals("sd_model_checkpoint")) {
                        if (!f.getValue().isTextual()) throw HttpError.invalid("sd_model_checkpoint must be a string");
                        switchTo = catalog.find(f.getValue().asText()).title();
                    } else {
                        warnings.add("option '" + f.getKey() + "' is not supported and was ignored");
                    }
                }
                if (!warnings.isEmpty()) out.set("warnings", warnings);
                if (switchTo == null) return sendJson(ex, 200, out);
                if (stopping) throw new HttpError(503, "ShuttingDown", "the server is shutting down", null, Map.of("Retry-After", "30"));
                Job job = Job.switchModel(switchTo);
                worker.submit(job);
                return respondWhenDone(ex, job, out);
            }
            case "/sdapi/v1/png-info" -> {
                requireMethod(method, "POST");
                ObjectNode body = readJson(ex);
                JsonNode img = body.get("image");
                if (img == null || !img.isTextual()) throw HttpError.invalid("png-info needs \"image\": a base64 PNG");
                byte[] bytes = A1111.base64(img.asText(), "image");
                Map<String, String> text;
                try {
                    text = new java.util.LinkedHashMap<>(Images.readPngText(bytes));
                } catch (IOException | RuntimeException e) {
                    throw HttpError.badRequest("image is not a readable image (" + e.getMessage() + ")");
                }
                String info = text.remove("parameters");
                ObjectNode out = json.createObjectNode();
                out.put("info", info == null ? "" : info);
                ObjectNode items = out.putObject("items");
                text.forEach(items::put);
                out.set("parameters", A1111.parseParameters(info));
                return sendJson(ex, 200, out);
            }
            default -> throw new HttpError(404, "NotFound", "no such endpoint: " + method + " " + path);
        }
    }

    private ObjectNode options() {
        ObjectNode o = json.createObjectNode();
        Catalog.Entry m = worker.loaded();
        o.put("sd_model_checkpoint", m == null ? null : m.title());
        o.putNull("sd_checkpoint_hash");
        o.put("CLIP_stop_at_last_layers", 1);
        o.put("samples_format", "png");
        return o;
    }

    // ------------------------------------------------------------------------------------------------ jobs

    private int respondWhenDone(HttpExchange ex, Job job) throws IOException { return respondWhenDone(ex, job, null); }

    /**
     * Waits for a job, sending a space every {@value #HEARTBEAT_MS} ms once the first interval has passed; a failed
     * write means the client is gone, and its job is cancelled.
     */
    private int respondWhenDone(HttpExchange ex, Job job, ObjectNode switchReply) throws IOException {
        OutputStream out = null;
        Object result;
        try {
            while (true) {
                try {
                    result = job.done.get(HEARTBEAT_MS, TimeUnit.MILLISECONDS);
                    break;
                } catch (TimeoutException e) {
                    if (out == null) {
                        jsonHeaders(ex);
                        ex.sendResponseHeaders(200, 0);
                        out = ex.getResponseBody();
                    }
                    out.write(' ');
                    out.flush();
                } catch (ExecutionException e) {
                    HttpError err = e.getCause() instanceof HttpError h ? h
                            : new HttpError(500, "InternalError", String.valueOf(e.getCause()));
                    if (out == null) throw err;
                    metrics.error(err.status);
                    out.write(json.writeValueAsBytes(errorBody(err)));
                    return 200;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
            byte[] body;
            int status = 200;
            if (result instanceof Worker.Result r) {
                if (r.stop() == Job.Stop.SHUTDOWN && r.images().isEmpty()) {
                    HttpError err = new HttpError(503, "ShuttingDown", "the server is shutting down", null, Map.of("Retry-After", "30"));
                    if (out == null) throw err;
                    body = json.writeValueAsBytes(errorBody(err));
                } else {
                    body = json.writeValueAsBytes(generationReply(job, r));
                }
            } else {
                ObjectNode o = switchReply == null ? json.createObjectNode() : switchReply;
                body = json.writeValueAsBytes(o);
            }
            if (out == null) {
                jsonHeaders(ex);
                ex.sendResponseHeaders(status, body.length);
                out = ex.getResponseBody();
            }
            out.write(body);
            out.flush();
            return status;
        } catch (IOException e) {
            worker.stop(job, Job.Stop.DISCONNECTED);
            throw e;
        }
    }

    private ObjectNode generationReply(Job job, Worker.Result r) {
        A1111.Spec s = job.spec;
        ObjectNode out = json.createObjectNode();
        ArrayNode images = out.putArray("images");
        boolean send = s.echo().path("send_images").asBoolean(true);
        if (send) r.images().forEach(images::add);
        ObjectNode params = s.echo().deepCopy();
        ObjectNode info = json.createObjectNode();
        String prompt = s.echo().path("prompt").asText(""), negative = s.echo().path("negative_prompt").asText("");
        int n = r.images().size();
        info.put("prompt", prompt);
        ArrayNode ap = info.putArray("all_prompts"), an = info.putArray("all_negative_prompts"), as = info.putArray("all_seeds"),
                asub = info.putArray("all_subseeds");
        for (int i = 0; i < n; i++) {
            ap.add(prompt);
            an.add(negative);
            as.add(r.seeds().get(i));
            asub.add(-1);
        }
        info.put("negative_prompt", negative);
        info.put("seed", s.seed());
        info.put("subseed", -1);
        info.put("subseed_strength", 0);
        if (r.resolved() != null) {
            info.put("width", r.resolved().width());
            info.put("height", r.resolved().height());
            info.put("sampler_name", A1111.displayName(r.resolved().sampler()));
            info.put("cfg_scale", r.resolved().guidance());
            info.put("steps", r.resolved().steps());
            params.put("width", r.resolved().width());
            params.put("height", r.resolved().height());
            params.put("sampler_name", A1111.displayName(r.resolved().sampler()));
            params.put("cfg_scale", r.resolved().guidance());
            params.put("steps", r.resolved().steps());
        }
        params.put("seed", s.seed());
        info.put("batch_size", s.batchSize());
        info.put("n_iter", s.nIter());
        info.put("restore_faces", false);
        info.put("sd_model_name", r.model());
        info.putNull("sd_model_hash");
        info.put("denoising_strength", job.img2img ? s.strength() : 0);
        info.put("clip_skip", s.clipSkip());
        ArrayNode it = info.putArray("infotexts");
        r.infotexts().forEach(it::add);
        info.putArray("styles");
        info.put("job_timestamp", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMddHHmmss")));
        info.put("index_of_first_image", 0);
        info.put("is_using_inpainting_conditioning", false);
        info.put("version", "jdiffusion");
        info.put("interrupted", r.stop() == Job.Stop.INTERRUPTED);
        ArrayNode w = info.putArray("warnings");
        s.warnings().forEach(w::add);
        out.set("parameters", params);
        try {
            out.put("info", json.writeValueAsString(info));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private ObjectNode progress(boolean skipImage) {
        Job j = worker.running();
        ObjectNode o = json.createObjectNode();
        boolean gen = j != null && j.kind == Job.Kind.GENERATE;
        double p = gen ? j.progress() : 0;
        double elapsed = gen ? (System.nanoTime() - j.startNanos) / 1e9 : 0;
        o.put("progress", p);
        o.put("eta_relative", p > 0 ? Math.max(0, elapsed / p - elapsed) : 0);
        ObjectNode st = o.putObject("state");
        st.put("skipped", gen && j.skip);
        st.put("interrupted", gen && j.stop == Job.Stop.INTERRUPTED);
        st.put("job", gen ? (j.img2img ? "img2img" : "txt2img") : "");
        st.put("job_count", gen ? j.images() : 0);
        st.put("job_timestamp", "0");
        st.put("job_no", gen ? j.imageNo : 0);
        st.put("sampling_step", gen ? j.step : 0);
        st.put("sampling_steps", gen ? j.steps : 0);
        st.put("queue_length", worker.queued());
        o.put("current_image", skipImage || !gen ? null : previewPng(j));
        o.put("textinfo", gen ? "image " + (j.imageNo + 1) + "/" + j.images() + ", step " + j.step + "/" + j.steps : null);
        return o;
    }

    /** The running job's latest preview as base64 PNG, encoded once per step however often it is polled. */
    private String previewPng(Job j) {
        Tensor t = j.preview;
        if (t == null) return null;
        synchronized (previewLock) {
            int key = j.previewStep;
            if (previewJob != j || previewKey != key) {
                Tensor first = t.rank() == 4 ? new Tensor(java.util.Arrays.copyOf(t.data(), 3 * t.dim(2) * t.dim(3)), 3, t.dim(2), t.dim(3)) : t;
                try {
                    previewPng = Base64.getEncoder().encodeToString(Images.pngBytes(first, Map.of()));
                } catch (IOException e) {
                    previewPng = null;
                }
                previewJob = j;
                previewKey = key;
            }
            return previewPng;
        }
    }

    // ------------------------------------------------------------------------------------------------ HTTP

    private ObjectNode readJson(HttpExchange ex) throws IOException {
        String ct = ex.getRequestHeaders().getFirst("Content-Type");
        if (ct != null) {
            String t = ct.toLowerCase(Locale.ROOT);
            // the content types a browser sends cross-origin without asking first: refused, so another site cannot post
            if (t.startsWith("text/plain") || t.startsWith("application/x-www-form-urlencoded") || t.startsWith("multipart/form-data"))
                throw new HttpError(415, "UnsupportedMediaType", "send the body as JSON with Content-Type: application/json (got " + ct + ")");
        }
        String cl = ex.getRequestHeaders().getFirst("Content-Length");
        if (cl != null) {
            try {
                if (Long.parseLong(cl.strip()) > config.maxBodyBytes()) throw tooLarge();
            } catch (NumberFormatException e) {
                throw HttpError.badRequest("Content-Length is not a number");
            }
        }
        byte[] bytes = ex.getRequestBody().readNBytes((int) Math.min(Integer.MAX_VALUE - 16, config.maxBodyBytes() + 1));
        if (bytes.length > config.maxBodyBytes()) throw tooLarge();
        if (bytes.length == 0) throw HttpError.badRequest("the request body is empty; send a JSON object");
        JsonNode n;
        try {
            n = json.readTree(bytes);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            throw HttpError.badRequest("malformed JSON: " + e.getOriginalMessage() + (loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr()));
        }
        if (n == null || !n.isObject()) throw HttpError.badRequest("the request body must be a JSON object");
        return (ObjectNode) n;
    }

    private HttpError tooLarge() {
        return new HttpError(413, "PayloadTooLarge", "the request body is larger than " + (config.maxBodyBytes() >> 20) + " MiB (--max-body-mb)");
    }

    private static void requireMethod(String method, String... allowed) {
        for (String a : allowed) if (a.equals(method)) return;
        throw new HttpError(405, "MethodNotAllowed", method + " is not allowed here; use " + String.join(" or ", allowed), null,
                Map.of("Allow", String.join(", ", allowed)));
    }

    /** Bound to loopback, only loopback host names are served: a web page cannot reach the API by DNS rebinding. */
    private void checkHost(HttpExchange ex) {
        if (!loopback) return;
        String host = ex.getRequestHeaders().getFirst("Host");
        if (host == null) return;
        String h = host.strip().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) h = h.substring(0, h.indexOf(']') + 1);
        else if (h.indexOf(':') >= 0) h = h.substring(0, h.indexOf(':'));
        if (h.equals("localhost") || h.equals("127.0.0.1") || h.equals("[::1]") || h.equals(config.host().toLowerCase(Locale.ROOT))
                || h.endsWith(".localhost") || h.startsWith("127.")) return;
        throw new HttpError(403, "ForbiddenHost", "Host '" + host + "' is not served: the server listens on loopback only (--host to serve others)");
    }

    private void checkKey(HttpExchange ex) {
        if (config.apiKey() == null) return;
        String given = ex.getRequestHeaders().getFirst("X-API-Key");
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (given == null && auth != null) {
            String a = auth.strip();
            if (a.regionMatches(true, 0, "Bearer ", 0, 7)) given = a.substring(7).strip();
            else if (a.regionMatches(true, 0, "Basic ", 0, 6)) {
                try {
                    String up = new String(Base64.getDecoder().decode(a.substring(6).strip()), StandardCharsets.UTF_8);
                    given = up.substring(up.indexOf(':') + 1);
                } catch (IllegalArgumentException e) {
                    given = null;
                }
            }
        }
        if (given == null || !MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), config.apiKey().getBytes(StandardCharsets.UTF_8)))
            throw new HttpError(401, "Unauthorized", given == null ? "this server needs an API key (Authorization: Bearer KEY)" : "wrong API key",
                    null, Map.of("WWW-Authenticate", "Bearer realm=\"jdiffusion\""));
    }

    private int preflight(HttpExchange ex) throws IOException {
        if (cors(ex)) {
            ex.getResponseHeaders().set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            ex.getResponseHeaders().set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key");
            ex.getResponseHeaders().set("Access-Control-Max-Age", "600");
        }
        ex.sendResponseHeaders(204, -1);
        return 204;
    }

    /** Adds the CORS headers when the request's Origin is the one --cors allows; true when it did. */
    private boolean cors(HttpExchange ex) {
        String allowed = config.corsOrigin(), origin = ex.getRequestHeaders().getFirst("Origin");
        if (allowed == null || origin == null) return false;
        if (!allowed.equals("*") && !allowed.equalsIgnoreCase(origin)) return false;
        ex.getResponseHeaders().set("Access-Control-Allow-Origin", allowed.equals("*") ? "*" : origin);
        ex.getResponseHeaders().add("Vary", "Origin");
        return true;
    }

    private void jsonHeaders(HttpExchange ex) {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        cors(ex);
    }

    private int sendJson(HttpExchange ex, int status, JsonNode body) throws IOException {
        jsonHeaders(ex);
        return send(ex, status, null, json.writeValueAsBytes(body));
    }

    private int send(HttpExchange ex, int status, String contentType, byte[] body) throws IOException {
        if (contentType != null) {
            ex.getResponseHeaders().set("Content-Type", contentType);
            cors(ex);
        }
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        }
        return status;
    }

    private ObjectNode errorBody(HttpError e) {
        ObjectNode o = json.createObjectNode();
        o.put("error", e.kind);
        o.put("detail", e.getMessage());
        o.put("status", e.status);
        if (e.extra != null) o.setAll(e.extra);
        return o;
    }

    private void sendError(HttpExchange ex, HttpError e) {
        metrics.error(e.status);
        try {
            e.headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
            sendJson(ex, e.status, errorBody(e));
        } catch (IOException | RuntimeException ignored) {
            // headers already sent, or the client is gone: nothing more to say
        }
    }
}

package dev.jdiffusion.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small client of the Hugging Face Hub's HTTP interface, on {@code java.net.http}:
 * <ul>
 *   <li>{@code GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true}: the file list with sizes and
 *       checksums ({@code siblings[].rfilename}, {@code size}, {@code lfs.sha256}, {@code blobId}) and the commit;</li>
 *   <li>{@code GET {endpoint}/{repo}/resolve/{rev}/{path}}: a file's bytes, possibly through redirects to a CDN.</li>
 * </ul>
 * Downloads go to {@code <file>.part}, continue a previous partial download with an HTTP Range request, are
 * checked against the size and SHA-256 (or git blob id) the hub lists, and are renamed atomically onto the
 * target only when they match; a mismatching file is deleted and reported. The token, when given, is sent as
 * a Bearer header to the endpoint's host only, never to a redirect target on another host.
 */
public final class HubClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final int MAX_REDIRECTS = 10;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hub-download-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final URI endpoint;
    private final String token;
    private final HttpClient http;
    private final long stallNanos;

    /** endpoint such as {@code https://huggingface.co}; token may be null; a transfer stalled 60 s is abandoned. */
    public HubClient(URI endpoint, String token) {
        this(endpoint, token, Duration.ofSeconds(60));
    }

    /** As {@link #HubClient(URI, String)}, abandoning a transfer (kept for resuming) after stallTimeout without data. */
    public HubClient(URI endpoint, String token, Duration stallTimeout) {
        if (stallTimeout.isNegative() || stallTimeout.isZero()) throw new IllegalArgumentException("stall timeout must be positive");
        this.stallNanos = stallTimeout.toNanos();
        this.endpoint = URI.create(stripSlash(Objects.requireNonNull(endpoint).toString()));
        String scheme = this.endpoint.getScheme();
        if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || this.endpoint.getHost() == null)
            throw new IllegalArgumentException("endpoint must be an http(s) URL: " + endpoint);
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(30)).build();
    }

    public URI endpoint() { return endpoint; }

    /** Checks a repository id ({@code owner/name} or {@code name}); IllegalArgumentException when malformed. */
    public static String checkRepoId(String repo) {
        if (repo == null || !REPO_ID.matcher(repo).matches() || repo.contains(".."))
            throw new IllegalArgumentException("bad repository id '" + repo + "' (expected owner/name)");
        return repo;
    }

    /** Lists the repository's files at a revision, with sizes and checksums. */
    public RepoListing list(String repo, String revision) {
        checkRepoId(repo);
        URI u = URI.create(endpoint + "/api/models/" + repo + "/revision/" + encode(revision) + "?blobs=true");
        HttpResponse<byte[]> r;
        try {
            r = send(u, null, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new HubException(u + ": " + describe(e), e);
        }
        int sc = r.statusCode();
        if (sc == 401 || sc == 403)
            throw new HubException(u + ": HTTP " + sc + ": access denied" + (token == null ? " (gated or private repository? set HF_TOKEN)" : " (check HF_TOKEN)"));
        if (sc == 404) throw new HubException(u + ": HTTP 404: no repository " + repo + " at revision " + revision);
        if (sc != 200) throw new HubException(u + ": HTTP " + sc);
        JsonNode root;
        try {
            root = JSON.readTree(r.body());
        } catch (IOException e) {
            throw new HubException(u + ": the hub's answer is not JSON");
        }
        JsonNode sib = root == null ? null : root.get("siblings");
        if (sib == null || !sib.isArray()) throw new HubException(u + ": the hub's answer has no siblings list");
        List<HubFile> files = new ArrayList<>();
        for (JsonNode s : sib) {
            String path = s.path("rfilename").asText("");
            if (path.isEmpty()) continue;
            JsonNode lfs = s.get("lfs");
            long size = s.has("size") ? s.get("size").asLong(-1) : -1;
            String sha = null;
            if (lfs != null && lfs.isObject()) {
                sha = lfs.path("sha256").asText(null);
                if (lfs.has("size")) size = lfs.get("size").asLong(size);
            }
            String blob = lfs == null || lfs.isNull() ? s.path("blobId").asText(null) : null;
            files.add(new HubFile(path, size, normalizeHex(sha, 64), normalizeHex(blob, 40)));
        }
        String commit = root.path("sha").asText(null);
        return new RepoListing(repo, revision, commit, List.copyOf(files));
    }

    /** The outcome of one file's download. */
    public enum Result { DOWNLOADED, RESUMED, ALREADY_PRESENT }

    /**
     * Downloads one file to target (through {@code target.part}), resuming a partial download, verifying size and
     * checksum, and renaming atomically. A file already at target with the listed size is kept as it is.
     * Throws {@link HubException} on failure; the .part file is kept when the transfer was cut (so the next
     * call resumes) and deleted when the content is wrong.
     */
    public Result download(String repo, String revision, HubFile file, Path target, Progress progress) {
        checkRepoId(repo);
        if (!FileSelection.isSafePath(file.path())) throw new HubException(repo + ": refusing unsafe file path '" + file.path() + "'");
        try {
            if (Files.isRegularFile(target) && file.size() >= 0 && Files.size(target) == file.size()) return Result.ALREADY_PRESENT;
            Files.createDirectories(target.toAbsolutePath().getParent());
            Path part = target.resolveSibling(target.getFileName() + ".part");
            long have = Files.isRegularFile(part) ? Files.size(part) : 0;
            if (file.size() >= 0 && have > file.size()) {
                Files.delete(part);
                have = 0;
            }
            boolean resumed = have > 0;
            if (file.size() < 0 || have < file.size()) have = fetch(repo, revision, file, part, have, progress);
            else progress.start(file.path(), have, file.size());
            verify(file, part);
            try {
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
            }
            progress.finish(file.path(), have);
            return resumed ? Result.RESUMED : Result.DOWNLOADED;
        } catch (IOException e) {
            throw new HubException(file.path() + ": " + describe(e) + " (partial download kept; run again to resume)", e);
        }
    }

    /** Fetches bytes [have, end) into part; returns the part's final length. */
    private long fetch(String repo, String revision, HubFile file, Path part, long have, Progress progress) throws IOException {
        URI u = URI.create(endpoint + "/" + repo + "/resolve/" + encode(revision) + "/" + encodePath(file.path()));
        HttpResponse<InputStream> r = send(u, have > 0 ? "bytes=" + have + "-" : null, HttpResponse.BodyHandlers.ofInputStream());
        int sc = r.statusCode();
        try (InputStream in = r.body()) {
            boolean append;
            if (sc == 206) {
                Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
                if (!m.matches() || Long.parseLong(m.group(1)) != have)
                    throw new HubException(file.path() + ": server answered the range request from byte " + have + " with Content-Range '"
                            + r.headers().firstValue("Content-Range").orElse("") + "'");
                append = true;
            } else if (sc == 200) {
                append = false;         // the server ignored the range: start over
                have = 0;
            } else if (sc == 416 && have > 0) {
                return have;             // nothing left to fetch: the part is complete (checked next)
            } else if (sc == 401 || sc == 403) {
                throw new HubException(file.path() + ": HTTP " + sc + ": access denied" + (token == null ? " (set HF_TOKEN)" : " (check HF_TOKEN)"));
            } else {
                throw new HubException(file.path() + ": HTTP " + sc + " from " + r.uri());
            }
            long total = file.size() >= 0 ? file.size() : r.headers().firstValueAsLong("Content-Length").orElse(-1) + (append ? have : 0);
            progress.start(file.path(), have, total);
            // java.net.http has no read timeout: a watchdog interrupts a read that has waited too long for data.
            AtomicLong lastData = new AtomicLong(System.nanoTime());
            AtomicBoolean stalled = new AtomicBoolean();
            Thread worker = Thread.currentThread();
            long period = Math.max(1, Math.min(1000, stallNanos / 4_000_000));
            ScheduledFuture<?> dog = WATCHDOG.scheduleAtFixedRate(() -> {
                if (System.nanoTime() - lastData.get() > stallNanos && stalled.compareAndSet(false, true)) worker.interrupt();
            }, period, period, TimeUnit.MILLISECONDS);
            long done = have;
            try (FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                if (append) ch.position(have);
                else ch.truncate(0);
                byte[] buf = new byte[1 << 20];
                for (int n; (n = in.read(buf)) > 0; ) {
                    lastData.set(System.nanoTime());
                    ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                    while (b.hasRemaining()) ch.write(b);
                    done += n;
                    if (file.size() >= 0 && done > file.size())
                        throw new HubException(file.path() + ": server sent more than the " + file.size() + " bytes the hub lists");
                    progress.advance(done);
                }
                ch.force(false);
            } catch (IOException e) {
                if (stalled.get()) throw new IOException("no data for " + stallNanos / 1_000_000_000 + " s after " + done + " bytes: transfer stalled", e);
                throw e;
            } finally {
                dog.cancel(false);
                if (stalled.get()) Thread.interrupted();
            }
            if (file.size() >= 0 && done < file.size())
                throw new IOException("connection closed after " + done + " of " + file.size() + " bytes");
            return done;
        }
    }

    /** Checks size and checksum of a complete part file; deletes it and throws when it does not match. */
    private static void verify(HubFile file, Path part) throws IOException {
        long size = Files.size(part);
        if (file.size() >= 0 && size != file.size()) {
            Files.deleteIfExists(part);
            throw new HubException(file.path() + ": corrupted download: " + size + " bytes, the hub lists " + file.size() + "; deleted");
        }
        String got, want;
        if (file.sha256() != null) {
            got = digest(part, "SHA-256", null);
            want = file.sha256();
        } else if (file.blobId() != null) {
            got = digest(part, "SHA-1", ("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
            want = file.blobId();
        } else {
            return;
        }
        if (!got.equals(want)) {
            Files.deleteIfExists(part);
            throw new HubException(file.path() + ": corrupted download: " + (file.sha256() != null ? "sha256 " : "git blob id ") + got
                    + ", the hub lists " + want + "; deleted");
        }
    }

    static String digest(Path f, String algorithm, byte[] prefix) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (prefix != null) md.update(prefix);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            while (ch.read(b) > 0) {
                b.flip();
                md.update(b);
                b.clear();
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Sends a GET, following redirects by hand so that the token never leaves the endpoint's host. */
    private <T> HttpResponse<T> send(URI u, String range, HttpResponse.BodyHandler<T> handler) throws IOException {
        URI at = u;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(at).GET().timeout(Duration.ofMinutes(2))
                    .header("User-Agent", "jdiffusion/0.1 (java.net.http)");
            if (range != null) b.header("Range", range);
            if (token != null && sameHost(at, endpoint)) b.header("Authorization", "Bearer " + token);
            HttpResponse<T> r;
            try {
                r = http.send(b.build(), handler);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            int sc = r.statusCode();
            if (sc != 301 && sc != 302 && sc != 303 && sc != 307 && sc != 308) return r;
            closeBody(r);
            String loc = r.headers().firstValue("Location").orElseThrow(() -> new IOException("HTTP " + sc + " without Location from " + u));
            if (hop >= MAX_REDIRECTS) throw new IOException("too many redirects from " + u);
            URI next = at.resolve(loc);
            if ("http".equals(next.getScheme()) && "https".equals(at.getScheme()))
                throw new IOException("refusing redirect from https to http (" + next + ")");
            at = next;
        }
    }

    private static void closeBody(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try {
                in.close();
            } catch (IOException ignored) {
                // the redirect's body is of no interest
            }
        }
    }

    private static boolean sameHost(URI a, URI b) {
        return a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost()) && a.getPort() == b.getPort()
                && Objects.equals(a.getScheme(), b.getScheme());
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        String what = e.getClass().getSimpleName();
        return m == null || m.isBlank() ? what : what + ": " + m.lines().findFirst().orElse(m);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String encodePath(String p) {
        StringBuilder sb = new StringBuilder();
        for (String seg : p.split("/")) {
            if (!sb.isEmpty()) sb.append('/');
            sb.append(encode(seg));
        }
        return sb.toString();
    }

    private static String normalizeHex(String s, int len) {
        if (s == null) return null;
        String h = s.toLowerCase(Locale.ROOT);
        return h.length() == len && h.chars().allMatch(c -> Character.digit(c, 16) >= 0) ? h : null;
    }

    private static String stripSlash(String s) {
        while (s.endsWith("/")) s = s.substring(0, s.length() - 1);
        return s;
    }
}

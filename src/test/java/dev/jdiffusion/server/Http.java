package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.tensor.Tensor;

import javax.imageio.ImageIO;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client over a plain socket to the loopback address, for the server tests: one request per
 * connection, a read timeout on every call, and the socket at hand so a test can drop it mid-request.
 */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int TIMEOUT_MS = 120_000;

    record Response(int status, Map<String, String> headers, byte[] body) {
        String text() { return new String(body, StandardCharsets.UTF_8); }

        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + text(), e);
            }
        }

        String header(String name) { return headers.get(name.toLowerCase(Locale.ROOT)); }
    }

    private Http() {}

    static Response get(int port, String path) throws IOException { return send(port, "GET", path, null, Map.of()); }

    static Response post(int port, String path, Object body) throws IOException {
        return send(port, "POST", path, body == null ? null : JSON.writeValueAsBytes(body), Map.of("Content-Type", "application/json"));
    }

    static Response send(int port, String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        try (Socket s = open(port)) {
            write(s, method, path, body, headers);
            return read(s.getInputStream());
        }
    }

    static Socket open(int port) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        s.setSoTimeout(TIMEOUT_MS);
        return s;
    }

    static void write(Socket s, String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        StringBuilder h = new StringBuilder(method + " " + path + " HTTP/1.1\r\nConnection: close\r\n");
        if (!headers.containsKey("Host")) h.append("Host: 127.0.0.1\r\n");
        headers.forEach((k, v) -> h.append(k).append(": ").append(v).append("\r\n"));
        if (body != null) h.append("Content-Length: ").append(body.length).append("\r\n");
        h.append("\r\n");
        OutputStream o = s.getOutputStream();
        o.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) o.write(body);
        o.flush();
    }

    static Response read(InputStream in) throws IOException {
        String status = line(in);
        if (status == null) throw new IOException("connection closed before a response");
        int code = Integer.parseInt(status.split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (String l = line(in); l != null && !l.isEmpty(); l = line(in)) {
            int c = l.indexOf(':');
            headers.put(l.substring(0, c).strip().toLowerCase(Locale.ROOT), l.substring(c + 1).strip());
        }
        byte[] body;
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                String size = line(in);
                if (size == null) throw new IOException("chunked body cut short");
                int n = Integer.parseInt(size.strip().split(";")[0], 16);
                if (n == 0) break;
                b.write(in.readNBytes(n));
                line(in);
            }
            body = b.toByteArray();
        } else if (headers.containsKey("content-length")) {
            body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
        } else {
            body = in.readAllBytes();
        }
        return new Response(code, headers, body);
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') return b.toString().replace("\r", "");
            b.append((char) c);
        }
        return b.isEmpty() ? null : b.toString();
    }

    /** A small txt2img request body. */
    static ObjectNode txt2img(String prompt, long seed, int steps) {
        ObjectNode o = JSON.createObjectNode();
        o.put("prompt", prompt);
        o.put("seed", seed);
        o.put("steps", steps);
        o.put("width", 64);
        o.put("height", 64);
        o.put("sampler_name", "Euler");
        return o;
    }

    /** A base64 PNG's pixels as [3, H, W] in [0, 1] (8-bit values / 255). */
    static Tensor pixels(String b64) throws IOException {
        Tensor t = Images.fromBufferedImage(ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(b64))));
        return new Tensor(t.data(), 3, t.dim(2), t.dim(3));
    }
}

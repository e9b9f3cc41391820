package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;

/**
 * A request the server answers with an error status and a one-line reason (never a stack trace). The body is
 * A1111's error shape: {@code {"error": KIND, "detail": REASON}} plus any {@link #extra} fields.
 */
final class HttpError extends RuntimeException {
    final int status;
    final String kind;
    final ObjectNode extra;
    final Map<String, String> headers;

    HttpError(int status, String kind, String detail) { this(status, kind, detail, null, Map.of()); }

    HttpError(int status, String kind, String detail, ObjectNode extra, Map<String, String> headers) {
        super(oneLine(detail), null, false, false);
        this.status = status;
        this.kind = kind;
        this.extra = extra;
        this.headers = headers;
    }

    static HttpError badRequest(String detail) { return new HttpError(400, "BadRequest", detail); }

    static HttpError invalid(String detail) { return new HttpError(422, "ValidationError", detail); }

    static String oneLine(String s) {
        if (s == null) return "";
        String t = s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
        return t.length() > 500 ? t.substring(0, 500) + "..." : t;
    }
}

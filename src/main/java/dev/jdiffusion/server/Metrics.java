package dev.jdiffusion.server;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.function.IntSupplier;

/** Counters for {@code /metrics}, written in the Prometheus text format (version 0.0.4). */
final class Metrics {
    final Map<String, AtomicLong> jobs = new ConcurrentHashMap<>();       // outcome -> count
    final Map<String, AtomicLong> rejected = new ConcurrentHashMap<>();   // reason -> count
    final Map<Integer, AtomicLong> errors = new ConcurrentHashMap<>();    // HTTP status -> count
    final AtomicLong images = new AtomicLong(), steps = new AtomicLong(), requests = new AtomicLong();
    final DoubleAdder stepSeconds = new DoubleAdder(), jobSeconds = new DoubleAdder();

    void job(String outcome, double seconds) {
        jobs.computeIfAbsent(outcome, k -> new AtomicLong()).incrementAndGet();
        jobSeconds.add(seconds);
    }

    void rejected(String reason) { rejected.computeIfAbsent(reason, k -> new AtomicLong()).incrementAndGet(); }

    void error(int status) { errors.computeIfAbsent(status, k -> new AtomicLong()).incrementAndGet(); }

    String render(IntSupplier queued, IntSupplier running, boolean ready) {
        StringBuilder b = new StringBuilder();
        gauge(b, "jdiffusion_up", "1 when a model is loaded and jobs can run", ready ? 1 : 0);
        gauge(b, "jdiffusion_queue_length", "jobs waiting behind the running one", queued.getAsInt());
        gauge(b, "jdiffusion_jobs_running", "jobs running (0 or 1)", running.getAsInt());
        counter(b, "jdiffusion_jobs_total", "jobs finished, by outcome", "outcome", new TreeMap<>(jobs));
        counter(b, "jdiffusion_rejected_total", "requests refused before queueing, by reason", "reason", new TreeMap<>(rejected));
        TreeMap<String, AtomicLong> byStatus = new TreeMap<>();
        errors.forEach((k, v) -> byStatus.put(String.valueOf(k), v));
        counter(b, "jdiffusion_http_errors_total", "error responses, by status", "status", byStatus);
        single(b, "jdiffusion_http_requests_total", "HTTP requests received", requests.get());
        single(b, "jdiffusion_images_total", "images generated", images.get());
        b.append("# HELP jdiffusion_step_seconds seconds per denoising step\n# TYPE jdiffusion_step_seconds summary\n");
        b.append(String.format(Locale.ROOT, "jdiffusion_step_seconds_sum %.6f%njdiffusion_step_seconds_count %d%n", stepSeconds.sum(), steps.get()));
        b.append("# HELP jdiffusion_job_seconds seconds per finished job, queue wait excluded\n# TYPE jdiffusion_job_seconds summary\n");
        long n = jobs.values().stream().mapToLong(AtomicLong::get).sum();
        b.append(String.format(Locale.ROOT, "jdiffusion_job_seconds_sum %.6f%njdiffusion_job_seconds_count %d%n", jobSeconds.sum(), n));
        return b.toString();
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static void single(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(v).append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, String label, Map<String, AtomicLong> values) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n");
        values.forEach((k, v) -> b.append(name).append('{').append(label).append("=\"").append(k).append("\"} ").append(v.get()).append('\n'));
    }
}

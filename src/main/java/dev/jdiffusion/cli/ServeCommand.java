package dev.jdiffusion.cli;

import dev.jdiffusion.kernels.Parallel;
import dev.jdiffusion.server.ApiServer;
import dev.jdiffusion.server.ServerConfig;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/** {@code jdiffusion serve}: the A1111-compatible HTTP API and the web page (see {@link ApiServer}). */
final class ServeCommand {
    private ServeCommand() {}

    static final String USAGE = """
            usage: jdiffusion serve -m MODEL [options]
              -m, --model PATH        model loaded at start (diffusers folder or single-file checkpoint)
              --host ADDR             address to listen on (default 127.0.0.1: this machine only)
              --port N                TCP port (default 7860)
              --models-dir DIR        more models that /sdapi/v1/options sd_model_checkpoint can switch to
              --lora-dir DIR          LoRA files listed by /sdapi/v1/loras
              --taesd F               TAESD folder or file for previews
              --api-key KEY           require Authorization: Bearer KEY (or X-API-Key, or Basic with KEY as password)
              --cors ORIGIN           let pages from ORIGIN (or *) call the API from a browser
              --queue N               jobs that may wait behind the running one (default 16; more get 503)
              --max-body-mb N         largest request body (default 64)
              --max-side N            largest width or height (default 2048)
              --max-steps N           most steps (default 150)
              --max-images N          most images per request, batch_size x n_iter (default 16)
              --shutdown-timeout S    seconds a SIGTERM lets queued and running jobs finish (default 60)
              --threads N             compute threads (default: all cores)""";

    private static final Set<String> VALUED = Set.of("--model", "--host", "--port", "--models-dir", "--lora-dir", "--taesd",
            "--api-key", "--cors", "--queue", "--max-body-mb", "--max-side", "--max-steps", "--max-images", "--shutdown-timeout", "--threads");
    private static final Set<String> FLAGS = Set.of("--help");
    private static final Map<String, String> ALIASES = Map.of("-m", "--model", "-h", "--help");

    static int run(String[] argv, PrintStream out, PrintStream err) throws java.io.IOException {
        Args a = new Args(argv, VALUED, FLAGS, ALIASES, USAGE);
        if (a.help(out)) return 0;
        a.requireNoPositional();
        Path model = Path.of(a.require("--model"));
        if (!Files.exists(model)) throw new UsageException("no such model: " + model + " (--model)", USAGE);
        for (String dir : new String[]{"--models-dir", "--lora-dir"})
            if (a.has(dir) && !Files.isDirectory(a.path(dir))) throw new UsageException(dir + " " + a.get(dir) + " is not a folder", USAGE);
        if (a.has("--taesd") && !Files.exists(a.path("--taesd"))) throw new UsageException("no such TAESD: " + a.get("--taesd") + " (--taesd)", USAGE);
        int threads = a.intValue("--threads", 0);
        if (a.has("--threads") && (threads < 1 || threads > 1024)) throw new UsageException("--threads must be >= 1, got " + threads, USAGE);
        int timeout = a.intValue("--shutdown-timeout", 60);
        if (timeout < 0) throw new UsageException("--shutdown-timeout must be >= 0, got " + timeout, USAGE);
        ServerConfig cfg;
        try {
            ServerConfig d = ServerConfig.of(model);
            cfg = d.withHost(a.get("--host", d.host())).withPort(a.intValue("--port", d.port()))
                    .withModelsDir(a.path("--models-dir")).withLoraDir(a.path("--lora-dir")).withTaesd(a.path("--taesd"))
                    .withApiKey(a.get("--api-key")).withCors(a.get("--cors")).withQueue(a.intValue("--queue", d.queue()))
                    .withLimits((long) a.intValue("--max-body-mb", (int) (d.maxBodyBytes() >> 20)) << 20, a.intValue("--max-side", d.maxSide()),
                            a.intValue("--max-steps", d.maxSteps()), a.intValue("--max-images", d.maxImages()))
                    .withShutdownTimeout(Duration.ofSeconds(timeout));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage(), USAGE);
        }
        if (threads > 0) Parallel.setThreads(threads);
        ApiServer server;
        try {
            server = ApiServer.start(cfg, err);
        } catch (java.net.BindException e) {
            throw new UsageException("cannot listen on " + cfg.host() + ":" + cfg.port() + " (" + e.getMessage() + "); choose another --port", USAGE);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            err.println("jdiffusion serve: shutting down (running jobs have " + timeout + " s to finish)");
            server.shutdown();
            stopped.countDown();
        }, "jdiffusion-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("jdiffusion serve: " + model.getFileName() + " on " + server.uri() + "  (API: " + server.uri() + "sdapi/v1/, "
                + (cfg.apiKey() != null ? "API key required" : "no API key") + "; Ctrl-C or SIGTERM to stop)");
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}

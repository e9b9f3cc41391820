package dev.jdiffusion.server;

import dev.jdiffusion.pipeline.GenerationRequest;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How {@code jdiffusion serve} runs.
 *
 * @param host            address to bind (loopback unless told otherwise)
 * @param port            TCP port; 0 picks a free one
 * @param model           the model loaded at start (folder or single-file checkpoint)
 * @param modelsDir       more models that {@code sd_model_checkpoint} can switch to, or null
 * @param loraDir         LoRA files listed by {@code /sdapi/v1/loras}, or null
 * @param taesd           TAESD for previews, or null
 * @param apiKey          key every API call must present, or null for none
 * @param corsOrigin      the origin allowed to call from a browser ("*" for any), or null for none
 * @param queue           most jobs waiting behind the running one
 * @param maxBodyBytes    largest request body
 * @param maxSide         largest width or height in pixels
 * @param maxSteps        most denoising steps
 * @param maxImages       most images per request (batch_size x n_iter)
 * @param shutdownTimeout how long a graceful shutdown lets queued and running jobs finish
 */
public record ServerConfig(String host, int port, Path model, Path modelsDir, Path loraDir, Path taesd, String apiKey,
                           String corsOrigin, int queue, long maxBodyBytes, int maxSide, int maxSteps, int maxImages,
                           Duration shutdownTimeout) {
    public static final int DEFAULT_PORT = 7860;

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(model, "model");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be between 0 and 65535, got " + port);
        if (queue < 0 || queue > 10_000) throw new IllegalArgumentException("--queue must be between 0 and 10000, got " + queue);
        if (maxSide < 8 || maxSide > GenerationRequest.MAX_SIDE)
            throw new IllegalArgumentException("--max-side must be between 8 and " + GenerationRequest.MAX_SIDE + ", got " + maxSide);
        if (maxSteps < 1 || maxSteps > GenerationRequest.MAX_STEPS)
            throw new IllegalArgumentException("--max-steps must be between 1 and " + GenerationRequest.MAX_STEPS + ", got " + maxSteps);
        if (maxImages < 1 || maxImages > 256) throw new IllegalArgumentException("--max-images must be between 1 and 256, got " + maxImages);
        if (maxBodyBytes < 1024) throw new IllegalArgumentException("--max-body-mb is too small");
        if (apiKey != null && apiKey.isBlank()) throw new IllegalArgumentException("--api-key must not be empty");
    }

    /** Defaults: 127.0.0.1:7860, queue 16, 64 MiB bodies, sides up to 2048, 150 steps, 16 images, 60 s to shut down. */
    public static ServerConfig of(Path model) {
        return new ServerConfig("127.0.0.1", DEFAULT_PORT, model, null, null, null, null, null, 16, 64L << 20, 2048, 150, 16,
                Duration.ofSeconds(60));
    }

    public ServerConfig withHost(String h) { return new ServerConfig(h, port, model, modelsDir, loraDir, taesd, apiKey, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withPort(int p) { return new ServerConfig(host, p, model, modelsDir, loraDir, taesd, apiKey, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withModelsDir(Path d) { return new ServerConfig(host, port, model, d, loraDir, taesd, apiKey, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withLoraDir(Path d) { return new ServerConfig(host, port, model, modelsDir, d, taesd, apiKey, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withTaesd(Path t) { return new ServerConfig(host, port, model, modelsDir, loraDir, t, apiKey, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withApiKey(String k) { return new ServerConfig(host, port, model, modelsDir, loraDir, taesd, k, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withCors(String o) { return new ServerConfig(host, port, model, modelsDir, loraDir, taesd, apiKey, o, queue, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withQueue(int q) { return new ServerConfig(host, port, model, modelsDir, loraDir, taesd, apiKey, corsOrigin, q, maxBodyBytes, maxSide, maxSteps, maxImages, shutdownTimeout); }
    public ServerConfig withLimits(long body, int side, int steps, int images) { return new ServerConfig(host, port, model, modelsDir, loraDir, taesd, apiKey, corsOrigin, queue, body, side, steps, images, shutdownTimeout); }
    public ServerConfig withShutdownTimeout(Duration d) { return new ServerConfig(host, port, model, modelsDir, loraDir, taesd, apiKey, corsOrigin, queue, maxBodyBytes, maxSide, maxSteps, maxImages, d); }
}

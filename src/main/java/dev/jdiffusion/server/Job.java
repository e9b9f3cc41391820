package dev.jdiffusion.server;

import dev.jdiffusion.pipeline.CancellationToken;
import dev.jdiffusion.tensor.Tensor;

import java.util.concurrent.CompletableFuture;

/**
 * One queued piece of work: a generation (txt2img/img2img) or a model switch. The HTTP thread that made it waits on
 * {@link #done}; the worker runs it and records its progress for {@code /sdapi/v1/progress}.
 */
final class Job {
    enum Kind { GENERATE, SWITCH_MODEL }

    /** Why a job stopped early. */
    enum Stop { NONE, INTERRUPTED, DISCONNECTED, SHUTDOWN }

    final Kind kind;
    final A1111.Spec spec;        // GENERATE
    final String modelName;       // SWITCH_MODEL
    final boolean img2img;
    final long createdNanos = System.nanoTime();
    final CompletableFuture<Object> done = new CompletableFuture<>();

    volatile Stop stop = Stop.NONE;
    volatile boolean skip;
    volatile CancellationToken current;
    // progress
    volatile long startNanos;
    volatile int imageNo, step, steps;
    volatile Tensor preview;
    volatile int previewStep = -1;

    private Job(Kind kind, A1111.Spec spec, String modelName, boolean img2img) {
        this.kind = kind;
        this.spec = spec;
        this.modelName = modelName;
        this.img2img = img2img;
    }

    static Job generate(A1111.Spec spec, boolean img2img) { return new Job(Kind.GENERATE, spec, null, img2img); }

    static Job switchModel(String name) { return new Job(Kind.SWITCH_MODEL, null, name, false); }

    int images() { return spec == null ? 1 : spec.images(); }

    /** Stops the job (queued or running) for the given reason; the first reason wins. */
    void stop(Stop why) {
        synchronized (this) {
            if (stop == Stop.NONE) stop = why;
        }
        CancellationToken t = current;
        if (t != null) t.cancel();
    }

    /** Cancels the image being made; the job goes on with the next (A1111's skip). */
    void skipCurrent() {
        skip = true;
        CancellationToken t = current;
        if (t != null) t.cancel();
    }

    /** Fraction done in [0, 1]. */
    double progress() {
        int n = images();
        double within = steps > 0 ? (double) step / steps : 0;
        return Math.min(1, (imageNo + within) / n);
    }
}

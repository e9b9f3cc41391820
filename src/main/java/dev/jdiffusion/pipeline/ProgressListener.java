package dev.jdiffusion.pipeline;

/** Receives a {@link ProgressEvent} after each step, on the generating thread. Keep it quick. */
@FunctionalInterface
public interface ProgressListener {
    /** Called after each denoising step, on the generating thread. */
    void onStep(ProgressEvent event);

    /** A listener that ignores everything. */
    ProgressListener NONE = e -> {};
}

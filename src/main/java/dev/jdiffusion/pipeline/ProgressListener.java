package dev.jdiffusion.pipeline;

/** Receives a {@link ProgressEvent} after each step, on the generating thread. Keep it quick. */
@FunctionalInterface
public interface ProgressListener {
    /**
     * Called after each denoising step, on the generating thread; the next step waits for it to return. An exception
     * thrown here ends the generation with that exception.
     *
     * @param event the step just finished, its total, and a preview image when the request asked for them
     */

    void onStep(ProgressEvent event);

    /** A listener that ignores everything. */
    ProgressListener NONE = e -> {};
}

package dev.jdiffusion.pipeline;

import java.util.concurrent.CancellationException;

/**
 * Cancels a generation from any thread. The engine checks it before it starts (also after waiting for another
 * caller's run), after the text encoder, before each denoising step and before decoding, and ends the run with a
 * {@link CancellationException}; the model stays usable. A token stays cancelled: use a new one per request.
 */
public final class CancellationToken {
    private volatile boolean cancelled;

    /** A token not cancelled yet. */
    public CancellationToken() {}

    /** Cancels the generation; it ends at its next check with a CancellationException. */
    public void cancel() { cancelled = true; }

    /** {@return true once {@link #cancel()} was called, from any thread (a volatile read)} */
    public boolean isCancelled() { return cancelled; }

    /**
     * Throws when cancelled; the engine calls it at its checkpoints, a listener may call it too.
     *
     * @throws CancellationException "generation cancelled", once {@link #cancel()} was called
     */

    public void check() {
        if (cancelled) throw new CancellationException("generation cancelled");
    }
}

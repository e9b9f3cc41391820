package dev.jdiffusion.pipeline;

import java.util.concurrent.CancellationException;

/**
 * Cancels a running generation from any thread. The engine checks it between steps and between U-Net blocks,
 * and ends the run with a {@link CancellationException}.
 */
public final class CancellationToken {
    private volatile boolean cancelled;

    public void cancel() { cancelled = true; }

    public boolean isCancelled() { return cancelled; }

    /** Throws CancellationException when cancelled. */
    public void check() {
        if (cancelled) throw new CancellationException("generation cancelled");
    }
}

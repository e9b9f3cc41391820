package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;

import java.time.Duration;

/**
 * Reported after each denoising step.
 *
 * @param step      steps done (1-based)
 * @param total     steps in this run
 * @param elapsed   time since the denoising loop began
 * @param remaining estimated time to the end of the loop (elapsed / step * (total - step))
 * @param preview   a cheap preview image [batch, 3, H, W] in [0,1] when previews were asked for, else null
 */
public record ProgressEvent(int step, int total, Duration elapsed, Duration remaining, Tensor preview) {}

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
 * @param preview   when previews were asked for, a cheap preview of the current denoised estimate in [0, 1]:
 *                  [batch, 3, H, W] decoded by TAESD when the model has one, else [batch, 3, H/8, W/8] from a
 *                  linear latent-to-RGB map; null otherwise
 */
public record ProgressEvent(int step, int total, Duration elapsed, Duration remaining, Tensor preview) {}

package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * The outcome of one sampler step.
 *
 * @param prevSample the latents for the next step (after the last step: the final latents)
 * @param denoised   the scheduler's estimate of the clean latents at this step (diffusers' pred_original_sample,
 *                   LCM's denoised, DPM-Solver's converted model output); useful for previews
 */
public record StepResult(Tensor prevSample, Tensor denoised) {}

package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * A diffusion sampler (a diffusers scheduler): it chooses the timesteps and turns each model output into the next
 * latents. Steps are addressed by index into {@link #timesteps()}, so duplicated timesteps are never ambiguous.
 *
 * <p>Typical text-to-image loop:
 * <pre>{@code
 * scheduler.setTimesteps(steps);
 * Tensor latents = scale(generator.randn(shape), scheduler.initNoiseSigma());
 * for (int i = 0; i < scheduler.numSteps(); i++) {
 *     Tensor in = scheduler.scaleModelInput(latents, i);
 *     Tensor eps = unet(in, scheduler.timesteps()[i], ...);
 *     latents = scheduler.step(eps, i, latents, generator).prevSample();
 * }
 * }</pre>
 * For image-to-image start at {@link #startStep(int, double)} and noise the encoded image with
 * {@link #addNoise(Tensor, Tensor, int)} at that step.
 *
 * <p>Implementations keep state between steps (multistep solvers remember earlier outputs); {@link #setTimesteps}
 * resets it. Not thread-safe.
 */
public interface Scheduler {

    /**
     * Chooses the timesteps for a run of {@code steps} model evaluations and resets any per-run state.
     *
     * @param steps the model evaluations of the run, at least 1
     * @throws IllegalArgumentException for fewer than 1, or more than the training schedule allows
     */
    void setTimesteps(int steps);

    /** {@return the number of steps after {@link #setTimesteps} (the length of {@link #timesteps()})} */
    int numSteps();

    /** {@return the timestep to give the model at each step (integer-valued for discrete schedulers; a copy)} */
    float[] timesteps();

    /** {@return the factor to multiply unit Gaussian noise with for the initial latents} */
    float initNoiseSigma();

    /**
     * The model's input at a step.
     *
     * @param sample    the current latents (not modified)
     * @param stepIndex index into {@link #timesteps()}
     * @return the sample divided by sqrt(sigma^2 + 1) for sigma-based samplers (a new tensor), else the sample itself
     */
    Tensor scaleModelInput(Tensor sample, int stepIndex);

    /**
     * One sampler step from step {@code stepIndex}'s timestep to the next.
     *
     * @param modelOutput the model's prediction at this step (after classifier-free guidance)
     * @param stepIndex   index into {@link #timesteps()}; steps must be taken in increasing order
     * @param sample      the current latents (not modified)
     * @param noise       where stochastic samplers draw fresh noise (may be null for deterministic ones; a
     *                    stochastic sampler then throws)
     * @return the next latents and, where the sampler computes it, the denoised estimate
     */
    StepResult step(Tensor modelOutput, int stepIndex, Tensor sample, NoiseSource noise);

    /**
     * The clean latents noised to the level of a step (for image-to-image).
     *
     * @param original  the clean latents (not modified)
     * @param noise     unit Gaussian noise of the same shape
     * @param stepIndex the step whose noise level to reach, an index into {@link #timesteps()}
     * @return a new tensor
     */
    Tensor addNoise(Tensor original, Tensor noise, int stepIndex);

    /** {@return whether {@link #step} draws fresh noise (then a seeded {@link NoiseSource} must be given)} */
    boolean isStochastic();

    /**
     * The first step an image-to-image run takes for a denoising strength in [0, 1], as diffusers' {@code get_timesteps}:
     * {@code init = min(int(steps * strength), steps); start = max(steps - init, 0)}.
     *
     * @param steps    the run's steps, at least 1
     * @param strength the denoising strength in [0, 1]
     * @return the index of the first step to run (steps when strength is too small to run any)
     * @throws IllegalArgumentException a strength outside [0, 1] or fewer than 1 step
     */

    static int startStep(int steps, double strength) {
        if (!(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        int init = Math.min((int) (steps * strength), steps);
        return Math.max(steps - init, 0);
    }
}

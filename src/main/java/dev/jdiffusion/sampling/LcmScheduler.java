package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * Latent Consistency Model sampling (diffusers {@code LCMScheduler}): timesteps are chosen evenly from the
 * distillation schedule of {@code original_inference_steps} steps; each step predicts the clean latents with the
 * consistency boundary condition ({@code c_skip * x + c_out * x0}) and, except at the last step, re-noises them to
 * the next timestep with fresh noise.
 */
public final class LcmScheduler extends AlphaScheduler {
    private static final float SIGMA_DATA_SQ = 0.25f; // sigma_data = 0.5
    private final float finalAlphaCumprod;

    /**
     * An LCM scheduler.
     *
     * @param config the diffusers scheduler config (original_inference_steps from it)
     * @throws IllegalArgumentException a configuration the engine does not implement
     */
    public LcmScheduler(SchedulerConfig config) {
        super(config);
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1.0f : alphasCumprod[0];
    }

    @Override
    public void setTimesteps(int steps) { setTimesteps(steps, 1.0); }

    /**
     * LCM timesteps for {@code steps} steps; {@code strength} &lt; 1 restricts the distillation schedule to its first
     * {@code int(original_steps * strength)} entries (LCM's image-to-image).
     *
     * @param steps    the model evaluations of the run, at least 1
     * @param strength the image-to-image strength in (0, 1]; 1 for text-to-image
     * @throws IllegalArgumentException steps or strength out of range for the schedule
     */

    public void setTimesteps(int steps, double strength) {
        int original = config.originalInferenceSteps();
        int trainSteps = config.numTrainTimesteps();
        if (original > trainSteps)
            throw new IllegalArgumentException("LCMScheduler: original_inference_steps " + original + " exceeds num_train_timesteps " + trainSteps);
        if (steps < 1 || steps > original)
            throw new IllegalArgumentException("LCMScheduler: steps must be in [1, original_inference_steps=" + original + "], got " + steps);
        int k = trainSteps / original;
        int count = (int) (original * strength);
        if (count / steps < 1)
            throw new IllegalArgumentException("LCMScheduler: " + steps + " steps need strength >= " + ((double) steps / original) + ", got " + strength);
        // distillation schedule (1..count)*k - 1, reversed, sampled at floor(linspace(0, count, steps, endpoint=False))
        timesteps = new double[steps];
        for (int i = 0; i < steps; i++) {
            int idx = (int) Math.floor(i * ((double) count / steps));
            timesteps[i] = (double) (count - idx) * k - 1;
        }
    }

    @Override public float initNoiseSigma() { return 1.0f; }
    @Override public Tensor scaleModelInput(Tensor sample, int stepIndex) { checkIndex(stepIndex); return sample; }
    @Override public boolean isStochastic() { return true; }

    /** c_skip and c_out of the consistency boundary condition at a timestep (float32, as diffusers). */
    float[] boundaryScalings(int timestep) {
        float scaled = (float) timestep * (float) config.timestepScaling();
        float denom = scaled * scaled + SIGMA_DATA_SQ;
        return new float[]{SIGMA_DATA_SQ / denom, scaled / sqrtf(denom)};
    }

    @Override
    public StepResult step(Tensor modelOutput, int stepIndex, Tensor sample, NoiseSource noise) {
        checkIndex(stepIndex);
        sameSize(modelOutput, sample, "LCM step");
        int t = timestepAt(stepIndex);
        int prevT = stepIndex + 1 < timesteps.length ? timestepAt(stepIndex + 1) : t;
        float aT = alphasCumprod[t];
        float aPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod;
        float bT = 1.0f - aT, bPrev = 1.0f - aPrev;
        float[] sc = boundaryScalings(t);
        float cSkip = sc[0], cOut = sc[1];
        float sqrtA = sqrtf(aT), sqrtB = sqrtf(bT);

        float[] x = sample.data(), m = modelOutput.data();
        int n = x.length;
        float[] denoised = new float[n];
        String pt = config.predictionType();
        for (int i = 0; i < n; i++) {
            float x0 = switch (pt) {
                case "epsilon" -> (x[i] - sqrtB * m[i]) / sqrtA;
                case "v_prediction" -> sqrtA * x[i] - sqrtB * m[i];
                default -> m[i];
            };
            denoised[i] = cOut * x0 + cSkip * x[i];
        }
        if (stepIndex == timesteps.length - 1) return new StepResult(like(sample, denoised), like(sample, denoised.clone()));
        float[] z = drawNoise(noise, sample).data();
        float sa = sqrtf(aPrev), sb = sqrtf(bPrev);
        float[] prev = new float[n];
        for (int i = 0; i < n; i++) prev[i] = sa * denoised[i] + sb * z[i];
        return new StepResult(like(sample, prev), like(sample, denoised));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int stepIndex) {
        checkIndex(stepIndex);
        return addNoiseAlpha(original, noise, timestepAt(stepIndex));
    }
}

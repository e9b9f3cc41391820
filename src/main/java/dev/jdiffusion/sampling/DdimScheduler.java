package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * DDIM (diffusers {@code DDIMScheduler}): deterministic for eta = 0; for eta &gt; 0 each step adds
 * {@code eta * sigma_t} times fresh noise. Supports epsilon / v_prediction / sample outputs, the three timestep
 * spacings, set_alpha_to_one and steps_offset.
 */
public final class DdimScheduler extends AlphaScheduler {
    private final float eta;
    private final float finalAlphaCumprod;

    /**
     * A DDIM scheduler with the given eta (0 = deterministic DDIM, 1 = DDPM-like).
     *
     * @param config the diffusers scheduler config
     * @param eta    the noise weight, 0 or more
     * @throws IllegalArgumentException a negative eta, or a config the engine does not support (thresholding,
     *                                  clip_sample, an unknown prediction type)
     */

    public DdimScheduler(SchedulerConfig config, double eta) {
        super(config);
        if (!(eta >= 0)) throw new IllegalArgumentException("DDIM eta must be >= 0, got " + eta);
        this.eta = (float) eta;
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1.0f : alphasCumprod[0];
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        timesteps = Spacing.timesteps(config.timestepSpacing(), config.numTrainTimesteps(), steps, config.stepsOffset(), true, "DDIMScheduler");
    }

    @Override public float initNoiseSigma() { return 1.0f; }
    @Override public Tensor scaleModelInput(Tensor sample, int stepIndex) { checkIndex(stepIndex); return sample; }
    @Override public boolean isStochastic() { return eta > 0; }

    @Override
    public StepResult step(Tensor modelOutput, int stepIndex, Tensor sample, NoiseSource noise) {
        checkIndex(stepIndex);
        sameSize(modelOutput, sample, "DDIM step");
        int t = timestepAt(stepIndex);
        int prevT = t - config.numTrainTimesteps() / timesteps.length;
        float aT = alphasCumprod[t];
        float aPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod;
        float bT = 1.0f - aT;
        float bPrev = 1.0f - aPrev;
        float sqrtA = sqrtf(aT), sqrtB = sqrtf(bT);

        float[] x = sample.data(), m = modelOutput.data();
        int n = x.length;
        float[] x0 = new float[n], eps = new float[n];
        switch (config.predictionType()) {
            case "epsilon" -> {
                for (int i = 0; i < n; i++) {
                    x0[i] = (x[i] - sqrtB * m[i]) / sqrtA;
                    eps[i] = m[i];
                }
            }
            case "v_prediction" -> {
                for (int i = 0; i < n; i++) {
                    x0[i] = sqrtA * x[i] - sqrtB * m[i];
                    eps[i] = sqrtA * m[i] + sqrtB * x[i];
                }
            }
            default -> { // sample
                for (int i = 0; i < n; i++) {
                    x0[i] = m[i];
                    eps[i] = (x[i] - sqrtA * m[i]) / sqrtB;
                }
            }
        }
        float variance = (bPrev / bT) * (1.0f - aT / aPrev);
        float std = eta * sqrtf(variance);
        float dirCoef = sqrtf(1.0f - aPrev - std * std);
        float sqrtAPrev = sqrtf(aPrev);
        float[] prev = new float[n];
        for (int i = 0; i < n; i++) prev[i] = sqrtAPrev * x0[i] + dirCoef * eps[i];
        if (eta > 0) {
            float[] z = drawNoise(noise, sample).data();
            for (int i = 0; i < n; i++) prev[i] = prev[i] + std * z[i];
        }
        return new StepResult(like(sample, prev), like(sample, x0));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int stepIndex) {
        checkIndex(stepIndex);
        return addNoiseAlpha(original, noise, timestepAt(stepIndex));
    }
}

package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * Ancestral Euler sampling (diffusers {@code EulerAncestralDiscreteScheduler}, k-diffusion's
 * {@code sample_euler_ancestral} with eta = 1): an Euler step down to sigma_down, then fresh noise scaled by
 * sigma_up, drawn at every step including the last.
 */
public final class EulerAncestralScheduler extends EulerFamily {
    /**
     * An Euler ancestral scheduler (no Karras sigmas).
     *
     * @param config the diffusers scheduler config
     * @throws IllegalArgumentException a configuration the engine does not implement
     */
    public EulerAncestralScheduler(SchedulerConfig config) { super(config, false); }


    @Override public boolean isStochastic() { return true; }

    @Override
    public StepResult step(Tensor modelOutput, int stepIndex, Tensor sample, NoiseSource noise) {
        checkIndex(stepIndex);
        sameSize(modelOutput, sample, "Euler ancestral step");
        float sigma = sigmas[stepIndex];
        float[] x = sample.data();
        float[] x0 = predictOriginal(x, modelOutput.data(), sigma);
        float from = sigma, to = sigmas[stepIndex + 1];
        float up = sqrtf(to * to * (from * from - to * to) / (from * from));
        float down = sqrtf(to * to - up * up);
        float dt = down - sigma;
        float[] prev = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float derivative = (x[i] - x0[i]) / sigma;
            prev[i] = x[i] + derivative * dt;
        }
        float[] z = drawNoise(noise, sample).data();
        for (int i = 0; i < x.length; i++) prev[i] = prev[i] + z[i] * up;
        return new StepResult(like(sample, prev), like(sample, x0));
    }
}

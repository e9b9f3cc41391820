package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * Euler's method on the probability-flow ODE (diffusers {@code EulerDiscreteScheduler}, k-diffusion's
 * {@code sample_euler} with s_churn = 0), optionally with Karras sigmas.
 *
 * <p>Like diffusers, each step draws a noise tensor even though s_churn = 0 leaves it unused, so that a seeded
 * {@link TorchGenerator} passed as the noise source stays in step with a diffusers run; a null source is fine.
 */
public final class EulerScheduler extends EulerFamily {
    /**
     * An Euler scheduler, with Karras sigmas when the config asks for them.
     *
     * @param config the diffusers scheduler config
     * @throws IllegalArgumentException a configuration the engine does not implement
     */
    public EulerScheduler(SchedulerConfig config) { super(config, true); }


    @Override public boolean isStochastic() { return false; }

    @Override
    public StepResult step(Tensor modelOutput, int stepIndex, Tensor sample, NoiseSource noise) {
        checkIndex(stepIndex);
        sameSize(modelOutput, sample, "Euler step");
        if (noise != null) noise.next(sample.shape()); // drawn and unused, as diffusers does
        float sigma = sigmas[stepIndex];
        float[] x = sample.data();
        float[] x0 = predictOriginal(x, modelOutput.data(), sigma);
        float dt = sigmas[stepIndex + 1] - sigma;
        float[] prev = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float derivative = (x[i] - x0[i]) / sigma;
            prev[i] = x[i] + derivative * dt;
        }
        return new StepResult(like(sample, prev), like(sample, x0));
    }
}

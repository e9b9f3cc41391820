package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * What the Euler samplers share (diffusers {@code EulerDiscreteScheduler} / {@code EulerAncestralDiscreteScheduler}):
 * sigmas interpolated at the chosen (possibly fractional) timesteps, or Karras-spaced, with a final 0; the model input
 * is the sample divided by sqrt(sigma^2 + 1).
 */
abstract sealed class EulerFamily extends AlphaScheduler permits EulerScheduler, EulerAncestralScheduler {
    /** The training schedule's sigmas, sqrt((1 - a) / a) per training timestep. */
    protected final float[] trainSigmas;
    /** sigmas[0..n] after setTimesteps, float32, the last one 0. */
    protected float[] sigmas;

    EulerFamily(SchedulerConfig config, boolean allowKarras) {
        super(config);
        config.requireOneOf("interpolation_type", "linear");
        config.requireOneOf("timestep_type", "discrete");
        if (config.useKarrasSigmas() && !allowKarras)
            throw new IllegalArgumentException(config.className() + ": use_karras_sigmas is not supported by this scheduler");
        this.trainSigmas = Sigmas.trainSigmas(alphasCumprod);
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        String who = getClass().getSimpleName();
        double[] t = Spacing.timesteps(config.timestepSpacing(), config.numTrainTimesteps(), steps, config.stepsOffset(), false, who);
        // diffusers keeps these timesteps as float32
        for (int i = 0; i < t.length; i++) t[i] = (float) t[i];
        double[] s = new double[t.length];
        for (int i = 0; i < t.length; i++) s[i] = Sigmas.interp(t[i], trainSigmas);
        if (config.useKarrasSigmas()) {
            double min = Double.isNaN(config.sigmaMin()) ? s[s.length - 1] : config.sigmaMin();
            double max = Double.isNaN(config.sigmaMax()) ? s[0] : config.sigmaMax();
            s = Sigmas.karras(min, max, steps);
            float[] logSigmas = Sigmas.log(trainSigmas);
            t = new double[s.length];
            for (int i = 0; i < s.length; i++) t[i] = (float) Sigmas.sigmaToT(s[i], logSigmas);
        }
        sigmas = new float[s.length + 1];
        for (int i = 0; i < s.length; i++) sigmas[i] = (float) s[i];
        timesteps = t;
    }

    /**
     * {@return a copy of the step sigmas (numSteps + 1 values, the last 0)}
     *
     * @throws IllegalStateException before setTimesteps
     */
    public float[] sigmas() {
        requireTimesteps();
        return sigmas.clone();
    }

    @Override
    public float initNoiseSigma() {
        requireTimesteps();
        float max = 0;
        for (float s : sigmas) max = Math.max(max, s);
        String sp = config.timestepSpacing();
        if (sp.equals("linspace") || sp.equals("trailing")) return max;
        return sqrtf(max * max + 1.0f);
    }

    @Override
    public Tensor scaleModelInput(Tensor sample, int stepIndex) {
        checkIndex(stepIndex);
        float sigma = sigmas[stepIndex];
        float d = sqrtf(sigma * sigma + 1.0f);
        float[] x = sample.data(), out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] / d;
        return like(sample, out);
    }

    /**
     * The clean-latents estimate at noise level sigma from the model output (float32, op by op as diffusers).
     *
     * @param x     the current latents
     * @param m     the model output (epsilon or v, per the config's prediction type)
     * @param sigma the step's noise level
     * @return a new array of the estimate
     */

    protected float[] predictOriginal(float[] x, float[] m, float sigma) {
        int n = x.length;
        float[] x0 = new float[n];
        switch (config.predictionType()) {
            case "epsilon" -> {
                for (int i = 0; i < n; i++) x0[i] = x[i] - sigma * m[i];
            }
            case "v_prediction" -> {
                float s2p1 = sigma * sigma + 1.0f;
                float c = -sigma / sqrtf(s2p1);
                for (int i = 0; i < n; i++) x0[i] = m[i] * c + x[i] / s2p1;
            }
            default -> throw new IllegalArgumentException(getClass().getSimpleName() + ": prediction_type \"sample\" is not supported");
        }
        return x0;
    }

    /** sample + noise * sigma at the step's noise level (diffusers' add_noise for sigma schedulers). */
    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int stepIndex) {
        checkIndex(stepIndex);
        sameSize(original, noise, "addNoise");
        float sigma = sigmas[stepIndex];
        float[] x = original.data(), z = noise.data(), out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] + z[i] * sigma;
        return like(original, out);
    }
}

package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * DPM-Solver++ multistep (diffusers {@code DPMSolverMultistepScheduler} with algorithm_type "dpmsolver++"):
 * first order at the first step, then second order from the current and previous data predictions
 * ("midpoint" or "heun" formula); with lower_order_final (fewer than 15 steps) or euler_at_final the last steps drop
 * back to lower order. Sigmas follow the timesteps or the Karras spacing. Deterministic.
 */
public final class DpmSolverMultistepScheduler extends AlphaScheduler {
    private final float[] trainSigmas;
    private final int order;
    private final boolean heun;
    private float[] sigmas;
    private float[] prevOutput; // data prediction of the previous step
    private int lowerOrderNums;
    private int lastStep = -1;

    /**
     * A DPM-Solver++ multistep scheduler.
     *
     * @param config the diffusers scheduler config (algorithm_type dpmsolver++, solver_order at most 2)
     * @throws IllegalArgumentException a configuration the engine does not implement
     */
    public DpmSolverMultistepScheduler(SchedulerConfig config) {
        super(config);
        if (!"dpmsolver++".equals(config.algorithmType()))
            throw new IllegalArgumentException("DPMSolverMultistepScheduler: algorithm_type \"" + config.algorithmType()
                    + "\" is not supported (only dpmsolver++)");
        if (config.solverOrder() != 1 && config.solverOrder() != 2)
            throw new IllegalArgumentException("DPMSolverMultistepScheduler: solver_order " + config.solverOrder() + " is not supported (1 or 2)");
        config.requireOneOf("solver_type", "midpoint", "heun");
        config.rejectIfTrue("use_lu_lambdas");
        config.requireOneOf("variance_type");
        config.requireOneOf("final_sigmas_type", "sigma_min");
        this.order = config.solverOrder();
        this.heun = "heun".equals(config.solverType());
        this.trainSigmas = Sigmas.trainSigmas(alphasCumprod);
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        int trainSteps = config.numTrainTimesteps();
        int lastTimestep = trainSteps - clippedCount();
        double[] t;
        switch (config.timestepSpacing()) {
            case "linspace" -> {
                double[] l = Spacing.rint(Spacing.linspace(0, lastTimestep - 1, steps + 1));
                t = new double[steps];
                for (int i = 0; i < steps; i++) t[i] = l[steps - i];
            }
            case "leading" -> {
                int ratio = lastTimestep / (steps + 1);
                t = new double[steps];
                for (int i = 0; i < steps; i++) t[i] = (double) (steps - i) * ratio + config.stepsOffset();
            }
            case "trailing" -> {
                t = Spacing.rint(Spacing.arange(lastTimestep, 0, -(double) trainSteps / steps));
                for (int i = 0; i < t.length; i++) t[i] -= 1;
            }
            default -> throw new IllegalArgumentException("DPMSolverMultistepScheduler: timestep_spacing \"" + config.timestepSpacing()
                    + "\" is not supported (linspace, leading, trailing)");
        }
        if (config.useKarrasSigmas()) {
            double[] s = Sigmas.karras(trainSigmas[0], trainSigmas[trainSigmas.length - 1], steps);
            float[] logSigmas = Sigmas.log(trainSigmas);
            t = new double[steps];
            for (int i = 0; i < steps; i++) t[i] = Math.rint(Sigmas.sigmaToT(s[i], logSigmas));
            sigmas = new float[steps + 1];
            for (int i = 0; i < steps; i++) sigmas[i] = (float) s[i];
            sigmas[steps] = sigmas[steps - 1];
        } else {
            sigmas = new float[t.length + 1];
            for (int i = 0; i < t.length; i++) sigmas[i] = (float) Sigmas.interp(t[i], trainSigmas);
            sigmas[t.length] = trainSigmas[0];
        }
        timesteps = t;
        prevOutput = null;
        lowerOrderNums = 0;
        lastStep = -1;
    }

    /** How many of the highest timesteps lambda_min_clipped removes (torch.searchsorted on the flipped lambdas). */
    private int clippedCount() {
        double min = config.lambdaMinClipped();
        if (min == Double.NEGATIVE_INFINITY) return 0;
        int n = 0;
        for (int i = alphasCumprod.length - 1; i >= 0; i--) {
            float a = alphasCumprod[i];
            float lambda = (float) Math.log(sqrtf(a)) - (float) Math.log(sqrtf(1.0f - a));
            if (lambda < min) n++;
            else break;
        }
        return n;
    }

    /**
     * {@return a copy of the step sigmas (numSteps + 1 values)}
     *
     * @throws IllegalStateException before setTimesteps
     */

    public float[] sigmas() {
        requireTimesteps();
        return sigmas.clone();
    }

    @Override public float initNoiseSigma() { return 1.0f; }
    @Override public Tensor scaleModelInput(Tensor sample, int stepIndex) { checkIndex(stepIndex); return sample; }
    @Override public boolean isStochastic() { return false; }

    private static float alphaOf(float sigma) { return 1.0f / sqrtf(sigma * sigma + 1.0f); }

    private static float lambdaOf(float alpha, float sigmaT) { return (float) Math.log(alpha) - (float) Math.log(sigmaT); }

    @Override
    public StepResult step(Tensor modelOutput, int stepIndex, Tensor sample, NoiseSource noise) {
        checkIndex(stepIndex);
        sameSize(modelOutput, sample, "DPM-Solver step");
        if (lastStep >= 0 && stepIndex != lastStep + 1)
            throw new IllegalStateException("DPM-Solver is multistep: steps must follow each other (got " + stepIndex + " after " + lastStep + ")");
        int n = timesteps.length;
        boolean lowerOrderFinal = stepIndex == n - 1 && (config.eulerAtFinal() || (config.lowerOrderFinal() && n < 15));
        boolean lowerOrderSecond = stepIndex == n - 2 && config.lowerOrderFinal() && n < 15; // only matters for order 3

        float[] x = sample.data(), m = modelOutput.data();
        // convert the model output to a data (x0) prediction
        float s0 = sigmas[stepIndex];
        float alpha0 = alphaOf(s0), sigmaT0 = s0 * alpha0;
        float[] x0 = new float[x.length];
        switch (config.predictionType()) {
            case "epsilon" -> { for (int i = 0; i < x.length; i++) x0[i] = (x[i] - sigmaT0 * m[i]) / alpha0; }
            case "v_prediction" -> { for (int i = 0; i < x.length; i++) x0[i] = alpha0 * x[i] - sigmaT0 * m[i]; }
            default -> System.arraycopy(m, 0, x0, 0, x.length);
        }

        float s1 = sigmas[stepIndex + 1];
        float alphaT = alphaOf(s1), sigmaT = s1 * alphaT;
        float lambdaT = lambdaOf(alphaT, sigmaT), lambdaS0 = lambdaOf(alpha0, sigmaT0);
        float h = lambdaT - lambdaS0;
        float ratio = sigmaT / sigmaT0;
        float coef = alphaT * ((float) Math.exp(-h) - 1.0f);
        float[] prev = new float[x.length];
        if (order == 1 || lowerOrderNums < 1 || lowerOrderFinal || prevOutput == null) {
            for (int i = 0; i < x.length; i++) prev[i] = ratio * x[i] - coef * x0[i];
        } else {
            float sm1 = sigmas[stepIndex - 1];
            float alpha1 = alphaOf(sm1), sigmaT1 = sm1 * alpha1;
            float lambdaS1 = lambdaOf(alpha1, sigmaT1);
            float h0 = lambdaS0 - lambdaS1;
            float r0 = h0 / h;
            float invR0 = 1.0f / r0;
            float[] m1 = prevOutput;
            if (heun) {
                float coef2 = alphaT * (((float) Math.exp(-h) - 1.0f) / h + 1.0f);
                for (int i = 0; i < x.length; i++) {
                    float d1 = invR0 * (x0[i] - m1[i]);
                    prev[i] = ratio * x[i] - coef * x0[i] + coef2 * d1;
                }
            } else {
                float half = 0.5f * coef;
                for (int i = 0; i < x.length; i++) {
                    float d1 = invR0 * (x0[i] - m1[i]);
                    prev[i] = ratio * x[i] - coef * x0[i] - half * d1;
                }
            }
        }
        if (lowerOrderNums < order) lowerOrderNums++;
        prevOutput = x0;
        lastStep = stepIndex;
        return new StepResult(like(sample, prev), like(sample, x0));
    }

    @Override
    public Tensor addNoise(Tensor original, Tensor noise, int stepIndex) {
        checkIndex(stepIndex);
        return addNoiseAlpha(original, noise, timestepAt(stepIndex));
    }
}

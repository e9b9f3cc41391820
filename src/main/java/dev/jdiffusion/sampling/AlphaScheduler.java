package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

import java.util.Arrays;

/**
 * Common ground of the built-in schedulers (not meant for outside subclasses): the config, the training schedule's alphas_cumprod and the chosen timesteps,
 * plus float32 element-wise helpers that round after every operation as PyTorch's tensor ops do.
 */
public abstract class AlphaScheduler implements Scheduler {
    /** The parsed diffusers config. */
    protected final SchedulerConfig config;
    /** The training schedule's cumulative alpha products, one per training timestep (float32, as diffusers). */
    protected final float[] alphasCumprod;
    /** Timesteps after setTimesteps (null before). */
    protected double[] timesteps;

    AlphaScheduler(SchedulerConfig config) {
        this.config = config;
        config.rejectIfTrue("thresholding");
        config.rejectIfTrue("clip_sample");
        config.checkedPredictionType();
        this.alphasCumprod = TrainingSchedule.alphasCumprod(config);
    }

    /** {@return the parsed config this scheduler was built from} */
    public SchedulerConfig config() { return config; }

    /** {@return a copy of the training schedule's cumulative alpha products, one per training timestep} */
    public float[] alphasCumprod() { return alphasCumprod.clone(); }

    @Override public int numSteps() { return timesteps().length; }

    @Override
    public float[] timesteps() {
        requireTimesteps();
        float[] t = new float[timesteps.length];
        for (int i = 0; i < t.length; i++) t[i] = (float) timesteps[i];
        return t;
    }

    /**
     * Fails unless {@link #setTimesteps} was called.
     *
     * @throws IllegalStateException before setTimesteps
     */
    protected void requireTimesteps() {
        if (timesteps == null) throw new IllegalStateException(getClass().getSimpleName() + ": call setTimesteps first");
    }

    /**
     * Checks a step count against the training schedule.
     *
     * @param steps the requested steps
     * @throws IllegalArgumentException fewer than 1, or more than num_train_timesteps
     */
    protected void checkSteps(int steps) {
        if (steps < 1) throw new IllegalArgumentException(getClass().getSimpleName() + ": steps must be >= 1, got " + steps);
        if (steps > config.numTrainTimesteps())
            throw new IllegalArgumentException(getClass().getSimpleName() + ": " + steps + " steps exceed num_train_timesteps "
                    + config.numTrainTimesteps());
    }

    /**
     * Checks a step index against the timesteps set.
     *
     * @param stepIndex an index into the timesteps
     * @throws IllegalStateException    before setTimesteps
     * @throws IllegalArgumentException outside [0, numSteps)
     */
    protected void checkIndex(int stepIndex) {
        requireTimesteps();
        if (stepIndex < 0 || stepIndex >= timesteps.length)
            throw new IllegalArgumentException(getClass().getSimpleName() + ": step index " + stepIndex + " outside [0, " + timesteps.length + ")");
    }

    /**
     * The integer training timestep of a step.
     *
     * @param stepIndex an index into the timesteps
     * @return the timestep, truncated to an int
     */
    protected int timestepAt(int stepIndex) { return (int) timesteps[stepIndex]; }

    /**
     * Noise for a stochastic step; fails clearly when none is given.
     *
     * @param noise the source, or null
     * @param like  the latents the noise must match
     * @return the next noise tensor of like's shape
     * @throws IllegalArgumentException no source, or noise of another size
     */
    protected Tensor drawNoise(NoiseSource noise, Tensor like) {
        if (noise == null) throw new IllegalArgumentException(getClass().getSimpleName() + " draws noise each step: give a NoiseSource");
        Tensor n = noise.next(like.shape());
        if (n.numel() != like.numel()) throw new IllegalArgumentException("noise has " + n.numel() + " values, latents " + like.numel());
        return n;
    }

    /**
     * Checks that two tensors have the same shape.
     *
     * @param a    a tensor
     * @param b    another
     * @param what the operation, for the message
     * @throws IllegalArgumentException when the shapes differ
     */
    protected static void sameSize(Tensor a, Tensor b, String what) {
        if (a.numel() != b.numel() || !Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(what + ": shapes differ: " + Arrays.toString(a.shape()) + " vs " + Arrays.toString(b.shape()));
    }

    /**
     * DDPM-style forward noising with alphas_cumprod[t]: sqrt(a) * x + sqrt(1 - a) * noise (float32, as diffusers).
     *
     * @param original the clean latents
     * @param noise    unit Gaussian noise of the same shape
     * @param timestep the training timestep t
     * @return a new tensor
     */
    protected Tensor addNoiseAlpha(Tensor original, Tensor noise, int timestep) {
        sameSize(original, noise, "addNoise");
        float a = alphasCumprod[timestep];
        float sa = (float) Math.sqrt(a);
        float sb = (float) Math.sqrt(1.0f - a);
        float[] x = original.data(), n = noise.data(), out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = sa * x[i] + sb * n[i];
        return new Tensor(out, original.shape());
    }

    /**
     * sqrt of a float, rounded to float (torch's {@code x ** 0.5} on a float32 scalar tensor).
     *
     * @param x the value
     * @return its square root, rounded once to float
     */
    protected static float sqrtf(float x) { return (float) Math.sqrt(x); }

    /**
     * A tensor of t's shape over data.
     *
     * @param t    the tensor whose shape to take
     * @param data the values, not copied
     * @return the new tensor
     */
    protected static Tensor like(Tensor t, float[] data) { return new Tensor(data, t.shape()); }

}

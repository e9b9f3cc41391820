package dev.jdiffusion.model.vae;

import dev.jdiffusion.tensor.Tensor;

import java.util.Arrays;

/**
 * The encoder's diagonal Gaussian over latents (diffusers' {@code DiagonalGaussianDistribution}): the moments split
 * into mean and log-variance along the channels, log-variance clamped to [-30, 20], std = exp(logvar / 2).
 * Latents here are unscaled: multiply by {@link AutoencoderKL#scalingFactor()} for the diffusion model.
 */
public final class LatentDist {
    private final Tensor moments, mean, logvar, std;

    LatentDist(Tensor moments) {
        this.moments = moments;
        int n = moments.dim(0), c2 = moments.dim(1), hw = moments.dim(2) * moments.dim(3);
        int c = c2 / 2;
        int[] shape = {n, c, moments.dim(2), moments.dim(3)};
        float[] m = new float[n * c * hw], lv = new float[n * c * hw], sd = new float[n * c * hw];
        float[] src = moments.data();
        for (int b = 0; b < n; b++) {
            System.arraycopy(src, b * c2 * hw, m, b * c * hw, c * hw);
            for (int i = 0; i < c * hw; i++) {
                float v = Math.min(20f, Math.max(-30f, src[(b * c2 + c) * hw + i]));
                lv[b * c * hw + i] = v;
                sd[b * c * hw + i] = (float) Math.exp(0.5f * v);
            }
        }
        mean = new Tensor(m, shape);
        logvar = new Tensor(lv, shape);
        std = new Tensor(sd, shape);
    }

    /** The raw encoder output [n, 2c, h, w] (after quant_conv). */
    public Tensor moments() { return moments; }
    /** Mean [n, c, h, w] (also the distribution's mode). */
    public Tensor mean() { return mean; }
    /** Clamped log-variance. */
    public Tensor logvar() { return logvar; }
    /** Standard deviation exp(logvar / 2). */
    public Tensor std() { return std; }

    /** mean + std * noise, with noise of the latent's size (standard normal values, e.g. from the torch-compatible RNG). */
    public Tensor sample(float[] noise) {
        float[] m = mean.data(), s = std.data();
        if (noise.length != m.length)
            throw new IllegalArgumentException("noise has " + noise.length + " values, the latent " + Arrays.toString(mean.shape()) + " needs " + m.length);
        float[] out = new float[m.length];
        for (int i = 0; i < out.length; i++) out[i] = m[i] + s[i] * noise[i];
        return new Tensor(out, mean.shape());
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.kernels.Elementwise;

/**
 * diffusers' Timesteps + TimestepEmbedding: the sinusoidal projection of the timestep (float32 arithmetic as torch does it),
 * plus, for LCM, cond_proj(timestep_cond) (linear, no bias); then linear_1 -> SiLU -> linear_2.
 */
final class TimestepEmbedding {
    private final int projDim;
    private final boolean flipSinToCos;
    private final float freqShift;
    private final Linear linear1, linear2, condProj;

    TimestepEmbedding(UNetWeights w, UNetConfig c) {
        projDim = c.timeProjDim();
        flipSinToCos = c.flipSinToCos();
        freqShift = c.freqShift();
        linear1 = new Linear(w, "time_embedding.linear_1", projDim, c.timeEmbedDim(), true);
        linear2 = new Linear(w, "time_embedding.linear_2", c.timeEmbedDim(), c.timeEmbedDim(), true);
        condProj = c.timeCondProjDim() > 0 ? new Linear(w, "time_embedding.cond_proj", c.timeCondProjDim(), projDim, false) : null;
    }

    /**
     * get_timestep_embedding: exponent = -ln(10000) * i / (half - shift), freq = exp(exponent), arg = t * freq,
     * [sin, cos] (or [cos, sin] when flip_sin_to_cos); a zero column pads an odd width.
     */
    static float[] sinusoidal(float[] t, int dim, boolean flip, float shift) {
        int half = dim / 2;
        float[] freq = new float[half];
        float negLog = (float) -Math.log(10000.0);
        float denom = half - shift;
        for (int i = 0; i < half; i++) freq[i] = (float) Math.exp((negLog * i) / denom);
        float[] out = new float[t.length * dim];
        for (int b = 0; b < t.length; b++)
            for (int i = 0; i < half; i++) {
                float a = t[b] * freq[i];
                float s = (float) Math.sin(a), co = (float) Math.cos(a);
                out[b * dim + i] = flip ? co : s;
                out[b * dim + half + i] = flip ? s : co;
            }
        return out;
    }

    /** The time_proj output [B, projDim]. */
    float[] project(float[] timesteps) { return sinusoidal(timesteps, projDim, flipSinToCos, freqShift); }

    /** The time embedding [B, timeEmbedDim] from the projection and an optional condition [B, timeCondProjDim]. */
    float[] embed(float[] proj, int batch, float[] cond) {
        float[] x = proj;
        if (condProj != null && cond != null) {
            float[] cp = condProj.forward(cond, batch);
            x = proj.clone();
            Elementwise.add(x, 0, cp, 0, x, 0, x.length);
        }
        float[] h = linear1.forward(x, batch);
        Activations.silu(h, 0, h.length);
        return linear2.forward(h, batch);
    }

    long flops(int batch) {
        return linear1.flops(batch) + linear2.flops(batch) + (condProj != null ? condProj.flops(batch) : 0);
    }
}

package dev.jdiffusion.sampling;

/**
 * The training noise schedule shared by all schedulers: betas and their cumulative alpha product, computed the way
 * diffusers does in float32 (torch.linspace, then torch.cumprod, which accumulates in double on the CPU).
 */
final class TrainingSchedule {
    private TrainingSchedule() {}

    /** alphas_cumprod[t] = prod_{i<=t} (1 - beta_i) for t in [0, num_train_timesteps). */
    static float[] alphasCumprod(SchedulerConfig c) {
        float[] betas = betas(c);
        float[] out = new float[betas.length];
        double acc = 1.0;
        for (int i = 0; i < betas.length; i++) {
            acc *= (1.0f - betas[i]);
            out[i] = (float) acc;
        }
        return out;
    }

    static float[] betas(SchedulerConfig c) {
        if (c.raw().path("rescale_betas_zero_snr").asBoolean(false))
            throw new IllegalArgumentException(c.className() + ": rescale_betas_zero_snr=true is not supported");
        int n = c.numTrainTimesteps();
        if (c.trainedBetas() != null) return c.trainedBetas().clone();
        switch (c.betaSchedule()) {
            case "linear":
                return torchLinspace((float) c.betaStart(), (float) c.betaEnd(), n);
            case "scaled_linear": {
                float[] b = torchLinspace((float) Math.sqrt(c.betaStart()), (float) Math.sqrt(c.betaEnd()), n);
                for (int i = 0; i < n; i++) b[i] = b[i] * b[i];
                return b;
            }
            case "squaredcos_cap_v2": {
                float[] b = new float[n];
                for (int i = 0; i < n; i++) {
                    double t1 = (double) i / n, t2 = (double) (i + 1) / n;
                    b[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
                }
                return b;
            }
            default:
                throw new IllegalArgumentException(c.className() + ": beta_schedule \"" + c.betaSchedule() + "\" is not supported"
                        + " (supported: linear, scaled_linear, squaredcos_cap_v2)");
        }
    }

    private static double alphaBar(double t) {
        double x = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return x * x;
    }

    /**
     * torch.linspace(start, end, steps, dtype=float32) on an AVX2 CPU: the first half counts up from start, the second
     * half down from end; blocks of 16 are produced by the vectorised path (base + lane * step), the remainder by the
     * scalar path; GCC fuses the multiply-adds.
     */
    static float[] torchLinspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        int idx = 0;
        final int lanes = 8;
        for (; idx + 2 * lanes <= steps; ) {
            for (int v = 0; v < 2; v++, idx += lanes) {
                float base = idx < halfway ? Math.fma(step, (float) idx, start) : Math.fma(-step, (float) (steps - idx - 1), end);
                for (int j = 0; j < lanes; j++) out[idx + j] = j == 0 ? base : Math.fma((float) j, step, base);
            }
        }
        for (; idx < steps; idx++)
            out[idx] = idx < halfway ? Math.fma(step, (float) idx, start) : Math.fma(-step, (float) (steps - idx - 1), end);
        return out;
    }
}

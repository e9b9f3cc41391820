package dev.jdiffusion.model.taesd;

import dev.jdiffusion.tensor.Tensor;

/** taesd.py's {@code Clamp}: {@code tanh(x / 3) * 3}, softly limiting the latents the decoder sees to (-3, 3). */
final class Clamp implements TaesdLayer {
    static final Clamp INSTANCE = new Clamp();

    @Override public Tensor forward(Tensor x) {
        float[] s = x.data(), d = new float[s.length];
        for (int i = 0; i < d.length; i++) d[i] = (float) Math.tanh(s[i] / 3f) * 3f;
        return new Tensor(d, x.shape());
    }

    @Override public String toString() { return "Clamp"; }
}

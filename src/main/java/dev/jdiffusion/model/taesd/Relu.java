package dev.jdiffusion.model.taesd;

import dev.jdiffusion.tensor.Tensor;

/** {@code nn.ReLU}. */
final class Relu implements TaesdLayer {
    static final Relu INSTANCE = new Relu();

    static void inPlace(Tensor t) {
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) if (!(d[i] > 0f)) d[i] = d[i] == d[i] ? 0f : d[i];
    }

    @Override public Tensor forward(Tensor x) {
        inPlace(x);
        return x;
    }

    @Override public String toString() { return "ReLU"; }
}

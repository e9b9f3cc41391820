package dev.jdiffusion.model.taesd;

import dev.jdiffusion.kernels.Upsample;
import dev.jdiffusion.tensor.Tensor;

/** {@code nn.Upsample(scale_factor=2)}: nearest neighbour. */
final class Upsample2x implements TaesdLayer {
    static final Upsample2x INSTANCE = new Upsample2x();

    @Override public Tensor forward(Tensor x) {
        Tensor y = Tensor.zeros(x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3));
        Upsample.nearest2x(x.data(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.data());
        return y;
    }

    @Override public int outSize(int h) { return 2 * h; }

    @Override public String toString() { return "Upsample(2x)"; }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.Matrix;

/** A linear layer {@code y = x W^T + b} on row-major rows (weight {@code [out, in]} stays mapped). */
final class Linear {
    final int in, out;
    private final Matrix weight;
    private final float[] bias;

    Linear(UNetWeights w, String prefix, int in, int out, boolean bias) {
        this.in = in;
        this.out = out;
        this.weight = w.matrix(prefix + ".weight", out, in);
        this.bias = bias ? w.vector(prefix + ".bias", out) : null;
    }

    /** y (rows x out) = x (rows x in) W^T + b. */
    float[] forward(float[] x, int rows) {
        float[] y = new float[rows * out];
        Gemm.linear(x, 0, rows, weight, bias, y, 0);
        return y;
    }

    /** y (rows x out, at least that long) = x (rows x in) W^T + b; returns y. */
    float[] forward(float[] x, int rows, float[] y) {
        Gemm.linear(x, 0, rows, weight, bias, y, 0);
        return y;
    }

    long flops(long rows) { return 2L * rows * in * out; }
}

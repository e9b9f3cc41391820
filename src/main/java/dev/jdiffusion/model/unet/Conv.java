package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.tensor.Tensor;

/** A square-kernel 2-D convolution layer (weight {@code [out, in, k, k]} stays mapped, bias copied). */
final class Conv {
    final int in, out, k, stride, padTop, padLeft, padBottom, padRight;
    private final Matrix weight;
    private final float[] bias;

    private Conv(UNetWeights w, String prefix, int in, int out, int k, int stride, int pt, int pl, int pb, int pr) {
        this.in = in;
        this.out = out;
        this.k = k;
        this.stride = stride;
        this.padTop = pt;
        this.padLeft = pl;
        this.padBottom = pb;
        this.padRight = pr;
        this.weight = w.matrix(prefix + ".weight", out, in, k, k);
        this.bias = w.vector(prefix + ".bias", out);
    }

    /** Stride 1, "same" padding. */
    static Conv same(UNetWeights w, String prefix, int in, int out, int k) {
        int p = (k - 1) / 2;
        return new Conv(w, prefix, in, out, k, 1, p, p, p, p);
    }

    static Conv of(UNetWeights w, String prefix, int in, int out, int k, int stride, int pt, int pl, int pb, int pr) {
        return new Conv(w, prefix, in, out, k, stride, pt, pl, pb, pr);
    }

    int outH(int h) { return Conv2d.outSize(h, k, stride, padTop, padBottom); }
    int outW(int w) { return Conv2d.outSize(w, k, stride, padLeft, padRight); }

    Tensor forward(Tensor x) {
        int b = x.dim(0), h = x.dim(2), w = x.dim(3);
        Tensor y = Tensor.zeros(b, out, outH(h), outW(w));
        Conv2d.forward(x.data(), b, in, h, w, weight, k, k, bias, stride, padTop, padLeft, padBottom, padRight, y.data());
        return y;
    }

    /** Multiply-adds * 2 for an input of h x w. */
    long flops(int batch, int h, int w) { return 2L * batch * out * outH(h) * outW(w) * in * k * k; }
}

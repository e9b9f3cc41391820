package dev.jdiffusion.model.vae;

import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Arrays;

/**
 * One {@code nn.Conv2d} with its weights kept in the mapped file: square kernel, stride and (possibly asymmetric)
 * zero padding. Shapes are checked when it is loaded, so a bad file fails before any compute.
 */
public final class ConvLayer {
    private final String name;
    private final Matrix weight;
    private final float[] bias;
    private final int cin, cout, k, stride, padTop, padLeft, padBottom, padRight;

    private ConvLayer(String name, Matrix weight, float[] bias, int cin, int cout, int k, int stride,
                      int padTop, int padLeft, int padBottom, int padRight) {
        this.name = name;
        this.weight = weight;
        this.bias = bias;
        this.cin = cin;
        this.cout = cout;
        this.k = k;
        this.stride = stride;
        this.padTop = padTop;
        this.padLeft = padLeft;
        this.padBottom = padBottom;
        this.padRight = padRight;
    }

    /** Loads {@code prefix.weight} ([cout, cin, k, k], or [cout, cin] for a 1x1) and {@code prefix.bias} when present; "same" padding k/2. */
    public static ConvLayer load(TensorSource s, String prefix, int stride) {
        TensorView w = s.get(prefix + ".weight");
        int k = kernelOf(w);
        return load(s, prefix, stride, k / 2, k / 2, k / 2, k / 2);
    }

    /** Loads a conv with explicit (top, left, bottom, right) padding. */
    public static ConvLayer load(TensorSource s, String prefix, int stride, int padTop, int padLeft, int padBottom, int padRight) {
        TensorView w = s.get(prefix + ".weight");
        int k = kernelOf(w);
        int cout = Math.toIntExact(w.dim(0)), cin = Math.toIntExact(w.dim(1));
        float[] b = null;
        TensorView bv = s.find(prefix + ".bias");
        if (bv != null) {
            if (bv.rank() != 1 || bv.dim(0) != cout)
                throw new ModelFormatException(s.description() + ": tensor " + prefix + ".bias has shape " + Arrays.toString(bv.shape())
                        + ", expected [" + cout + "]");
            b = bv.toFloatArray();
        }
        return new ConvLayer(prefix, Matrix.of(w), b, cin, cout, k, stride, padTop, padLeft, padBottom, padRight);
    }

    private static int kernelOf(TensorView w) {
        if (!w.dtype().isFloating())
            throw new ModelFormatException(w.source() + ": tensor " + w.name() + " has dtype " + w.dtype() + ", expected a floating type");
        if (w.rank() == 2) return 1;
        if (w.rank() != 4 || w.dim(2) != w.dim(3) || w.dim(2) < 1)
            throw new ModelFormatException(w.source() + ": tensor " + w.name() + " has shape " + Arrays.toString(w.shape())
                    + ", expected a square conv kernel [cout, cin, k, k]");
        return Math.toIntExact(w.dim(2));
    }

    public String name() { return name; }
    public int inChannels() { return cin; }
    public int outChannels() { return cout; }
    public int kernel() { return k; }
    public int stride() { return stride; }
    public boolean hasBias() { return bias != null; }

    /** Output height for an input height. */
    public int outHeight(int h) { return Conv2d.outSize(h, k, stride, padTop, padBottom); }

    /** Output width for an input width. */
    public int outWidth(int w) { return Conv2d.outSize(w, k, stride, padLeft, padRight); }

    /** Multiply-adds times two for an input of h x w (one image). */
    public long flops(int h, int w) { return 2L * cout * cin * k * k * outHeight(h) * outWidth(w); }

    /** y = conv(x) for NCHW x. */
    public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != cin)
            throw new IllegalArgumentException(name + ": expected input [n, " + cin + ", h, w], got " + Arrays.toString(x.shape()));
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int oh = outHeight(h), ow = outWidth(w);
        if (oh < 1 || ow < 1) throw new IllegalArgumentException(name + ": input " + h + "x" + w + " too small for this conv");
        Tensor y = Tensor.zeros(n, cout, oh, ow);
        Conv2d.forward(x.data(), n, cin, h, w, weight, k, k, bias, stride, padTop, padLeft, padBottom, padRight, y.data());
        return y;
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.kernels.Parallel;
import dev.jdiffusion.kernels.Upsample;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Arrays;

/**
 * One {@code nn.Conv2d}: square kernel, stride and (possibly asymmetric) zero padding; the weight
 * {@code [out, in, k, k]} stays in the mapped file, the bias is copied. The one conv layer of every model (U-Net,
 * ControlNet, VAE, TAESD): the U-Net builds it from the shapes its config implies ({@link #same}, {@link #of}),
 * the autoencoders from the shapes in the file ({@link #load}).
 */
public final class Conv {
    final int in, out, k, stride, padTop, padLeft, padBottom, padRight;
    private final String name;
    private final Matrix weight;
    private final float[] bias;

    private Conv(String name, Matrix weight, float[] bias, int in, int out, int k, int stride, int pt, int pl, int pb, int pr) {
        this.name = name;
        this.weight = weight;
        this.bias = bias;
        this.in = in;
        this.out = out;
        this.k = k;
        this.stride = stride;
        this.padTop = pt;
        this.padLeft = pl;
        this.padBottom = pb;
        this.padRight = pr;
    }

    /** Stride 1, "same" padding; shapes as the config implies (problems recorded in w). */
    static Conv same(UNetWeights w, String prefix, int in, int out, int k) {
        int p = (k - 1) / 2;
        return of(w, prefix, in, out, k, 1, p, p, p, p);
    }

    static Conv of(UNetWeights w, String prefix, int in, int out, int k, int stride, int pt, int pl, int pb, int pr) {
        return new Conv(prefix, w.matrix(prefix + ".weight", out, in, k, k), w.vector(prefix + ".bias", out),
                in, out, k, stride, pt, pl, pb, pr);
    }

    /** Loads {@code prefix.weight} ([cout, cin, k, k], or [cout, cin] for a 1x1) and {@code prefix.bias} when present; "same" padding k/2. */
    public static Conv load(TensorSource s, String prefix, int stride) {
        int k = kernelOf(s.get(prefix + ".weight"));
        return load(s, prefix, stride, k / 2, k / 2, k / 2, k / 2);
    }

    /** Loads a conv with explicit (top, left, bottom, right) padding; shapes are read from the file and checked. */
    public static Conv load(TensorSource s, String prefix, int stride, int padTop, int padLeft, int padBottom, int padRight) {
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
        return new Conv(prefix, Matrix.of(w), b, cin, cout, k, stride, padTop, padLeft, padBottom, padRight);
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
    public int inChannels() { return in; }
    public int outChannels() { return out; }
    public int kernel() { return k; }
    public int stride() { return stride; }
    public boolean hasBias() { return bias != null; }

    /** Output height for an input height. */
    public int outHeight(int h) { return Conv2d.outSize(h, k, stride, padTop, padBottom); }

    /** Output width for an input width. */
    public int outWidth(int w) { return Conv2d.outSize(w, k, stride, padLeft, padRight); }

    /** Multiply-adds times two for an input of h x w (one image). */
    public long flops(int h, int w) { return flops(1, h, w); }

    /** Multiply-adds times two for a batch of inputs of h x w. */
    public long flops(int batch, int h, int w) { return 2L * batch * out * in * k * k * outHeight(h) * outWidth(w); }

    /** y = conv(x) for NCHW x. */
    public Tensor forward(Tensor x) { return forward(x, null); }

    /**
     * y = conv(x), written into out (which must not be x's array) when out is not null and has exactly the output's
     * size; otherwise into a new array.
     */
    public Tensor forward(Tensor x, float[] out) {
        checkInput(x);
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int oh = outHeight(h), ow = outWidth(w);
        if (oh < 1 || ow < 1) throw new IllegalArgumentException(name + ": input " + h + "x" + w + " too small for this conv");
        long size = (long) n * this.out * oh * ow;
        Tensor y = out != null && out.length == size && out != x.data() ? new Tensor(out, n, this.out, oh, ow) : Tensor.zeros(n, this.out, oh, ow);
        Conv2d.forward(x.data(), n, in, h, w, weight, k, k, bias, stride, padTop, padLeft, padBottom, padRight, y.data());
        return y;
    }

    private void checkInput(Tensor x) {
        if (x.rank() != 4 || x.dim(1) != in)
            throw new IllegalArgumentException(name + ": expected input [n, " + in + ", h, w], got " + Arrays.toString(x.shape()));
    }

    /** Rows of the upsampled input that {@link #forwardUpsampled2x} prepares at once: about 4M floats (16 MB). */
    private static final int BAND_FLOATS = 4 << 20;

    /**
     * conv(nearest2x(x)) without the upsampled input ever existing whole: the output is computed in bands of rows,
     * each from the few upsampled rows it needs (a band of 4M floats), so memory stays at x, the output and two
     * small band buffers. Each band takes the whole image's path (Winograd, on bands of an even number of rows, or
     * direct), so each output element sums the same products in the same order as conv(nearest2x(x)): the result is
     * identical. (Bands once always ran direct, since their padding is not 1 on every side: half the speed of Winograd,
     * a third of the VAE decode's time.)
     */
    public Tensor forwardUpsampled2x(Tensor x) { return forwardUpsampled2x(x, BAND_FLOATS); }

    /** {@link #forwardUpsampled2x(Tensor)} with bands of about bandFloats upsampled input floats (for tests). */
    public Tensor forwardUpsampled2x(Tensor x, int bandFloats) {
        checkInput(x);
        int n = x.dim(0), h = x.dim(2), w = x.dim(3), bigH = 2 * h, bigW = 2 * w;
        int oh = outHeight(bigH), ow = outWidth(bigW);
        if (stride != 1 || oh < 1 || ow < 1) {
            Tensor big = Tensor.zeros(n, in, bigH, bigW);
            Upsample.nearest2x(x.data(), n, in, h, w, big.data());
            return forward(big);
        }
        Tensor y = Tensor.zeros(n, out, oh, ow);
        // The whole image's path, for every band: Winograd needs bands of an even number of rows (tiles of 2 x 2 outputs).
        float[] u = k == 3 && padTop == 1 && padLeft == 1 && padBottom == 1 && padRight == 1
                ? Conv2d.winogradFilters(weight, in, oh, ow) : null;
        int bandRows = Math.clamp(bandFloats / ((long) in * bigW), 1, oh);
        if (u != null && bandRows < oh) bandRows = Math.max(2, bandRows & ~1);
        float[] band = new float[in * (bandRows + k - 1) * bigW], o = new float[out * bandRows * ow];
        float[] xd = x.data(), yd = y.data();
        for (int b = 0; b < n; b++) {
            int xOff = b * in * h * w, yOff = b * out * oh * ow;
            for (int y0 = 0; y0 < oh; y0 += bandRows) {
                int rows = Math.min(bandRows, oh - y0);
                int i0 = y0 - padTop, i1 = y0 + rows - 1 - padTop + k; // upsampled input rows [i0, i1) this band reads
                int pt = Math.max(0, -i0), pb = Math.max(0, i1 - bigH);
                int r0 = Math.max(0, i0), ih = Math.min(i1, bigH) - r0;
                Parallel.forRange(in, 8, (c0, c1) -> {
                    for (int c = c0; c < c1; c++)
                        for (int r = 0; r < ih; r++) {
                            int src = xOff + (c * h + (r0 + r) / 2) * w, dst = (c * ih + r) * bigW;
                            for (int ix = 0; ix < bigW; ix++) band[dst + ix] = xd[src + (ix >> 1)];
                        }
                });
                if (u != null) Conv2d.forwardRows(band, in, ih, bigW, pt, pb, u, out, bias, o);
                else Conv2d.forward(band, 1, in, ih, bigW, weight, k, k, bias, 1, pt, padLeft, pb, padRight, o);
                for (int c = 0; c < out; c++) System.arraycopy(o, c * rows * ow, yd, yOff + (c * oh + y0) * ow, rows * ow);
            }
        }
        return y;
    }
}

package dev.jdiffusion.kernels;

/**
 * 2-D convolution on NCHW float arrays (cross-correlation, as PyTorch), any kernel size, stride and
 * (possibly asymmetric) zero padding. The weight is a {@link Matrix} of {@code [cout, cin*kh*kw]}.
 */
public final class Conv2d {
    private Conv2d() {}

    /** Output size of one spatial dimension. */
    public static int outSize(int in, int k, int stride, int pad0, int pad1) {
        return (in + pad0 + pad1 - k) / stride + 1;
    }

    /** Symmetric padding. See {@link #forward(float[], int, int, int, int, Matrix, int, int, float[], int, int, int, int, int, float[])}. */
    public static void forward(float[] x, int n, int cin, int h, int w, Matrix weight, int kh, int kw, float[] bias,
                               int stride, int pad, float[] y) {
        forward(x, n, cin, h, w, weight, kh, kw, bias, stride, pad, pad, pad, pad, y);
    }

    /**
     * y[n, cout, oh, ow] = bias + sum over cin, kh, kw. Padding is (top, left, bottom, right).
     * y must hold n * cout * oh * ow floats and must not alias x.
     */
    public static void forward(float[] x, int n, int cin, int h, int w, Matrix weight, int kh, int kw, float[] bias,
                               int stride, int padTop, int padLeft, int padBottom, int padRight, float[] y) {
        int cout = weight.rows();
        int kk = cin * kh * kw;
        if (weight.cols() != kk)
            throw new IllegalArgumentException("conv weight has " + weight.cols() + " columns, expected cin*kh*kw = " + kk);
        int oh = outSize(h, kh, stride, padTop, padBottom), ow = outSize(w, kw, stride, padLeft, padRight);
        int hw = oh * ow;
        float[] wd = weight.dense();
        boolean direct = kh == 1 && kw == 1 && stride == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0;
        float[] col = direct ? null : new float[kk * hw];
        for (int b = 0; b < n; b++) {
            int xOff = b * cin * h * w;
            float[] src;
            int srcOff;
            if (direct) {
                src = x;
                srcOff = xOff;
            } else {
                im2col(x, xOff, cin, h, w, kh, kw, stride, padTop, padLeft, oh, ow, col);
                src = col;
                srcOff = 0;
            }
            int yOff = b * cout * hw;
            Gemm.sgemm(false, false, cout, hw, kk, 1f, wd, 0, kk, src, srcOff, hw, 0f, y, yOff, hw);
            if (bias != null)
                for (int o = 0; o < cout; o++) {
                    float bv = bias[o];
                    int base = yOff + o * hw;
                    for (int i = 0; i < hw; i++) y[base + i] += bv;
                }
        }
    }

    static void im2col(float[] x, int xOff, int cin, int h, int w, int kh, int kw, int stride, int pt, int pl,
                       int oh, int ow, float[] col) {
        Parallel.forRange(cin, (c0, c1) -> {
            for (int c = c0; c < c1; c++)
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int row = ((c * kh + ky) * kw + kx) * oh * ow;
                        for (int oy = 0; oy < oh; oy++) {
                            int iy = oy * stride - pt + ky;
                            for (int ox = 0; ox < ow; ox++) {
                                int ix = ox * stride - pl + kx;
                                col[row + oy * ow + ox] = (iy < 0 || iy >= h || ix < 0 || ix >= w) ? 0f : x[xOff + (c * h + iy) * w + ix];
                            }
                        }
                    }
        });
    }
}

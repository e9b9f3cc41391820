package dev.jdiffusion.kernels;

/**
 * 2-D convolution on NCHW float arrays (cross-correlation, as PyTorch), any kernel size, stride and
 * (possibly asymmetric) zero padding. The weight is a {@link Matrix} of {@code [cout, cin*kh*kw]}.
 * Computed as an implicit GEMM (weights x im2col panels packed on the fly) on {@link GemmKernel}; mapped
 * F16/BF16 weights are converted while packing. Stride-1, padding-1 3x3 convolutions with enough channels and
 * pixels go through {@link Winograd} F(2x2, 3x3) instead.
 */
public final class Conv2d {
    private Conv2d() {}

    /** Fewest input and output channels for which a 3x3 convolution may keep Winograd-transformed filters. */
    public static final int WINOGRAD_MIN_CHANNELS = Winograd.MIN_CHANNELS;

    /**
     * Java heap the Winograd filter cache may hold, process-wide ({@code -Djdiffusion.winogradCacheMB}, default
     * {@value Winograd#DEFAULT_BUDGET_MB} MiB but at most a quarter of the maximum heap): part of what a generation
     * needs beside its activations. The cache saves the filter transforms of images under 2048 Winograd tiles
     * (SD at 512x512 and below: every level); it never changes the numbers.
     */
    public static long winogradCacheBudget() { return Winograd.budget(); }

    /** The system property that sets {@link #winogradCacheBudget()} in MiB. */
    public static final String WINOGRAD_CACHE_PROPERTY = Winograd.BUDGET_PROPERTY;

    /**
     * Throws an {@link IllegalArgumentException} naming {@value #WINOGRAD_CACHE_PROPERTY} when its value is not a
     * whole number of MiB (a model load calls it, so a bad value is a clear error there, not a class-init failure).
     */
    public static void checkWinogradCacheProperty() { Winograd.checkBudgetProperty(); }

    /**
     * Caps the Winograd filters that the weights mapped in {@code mapping} may keep, within the process-wide budget,
     * until the mapping closes (a low-memory model caps its files' scopes).
     */
    public static void capWinogradCache(java.lang.foreign.MemorySegment.Scope mapping, long bytes) { Winograd.capMapping(mapping, bytes); }


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
        long prof0 = Profiler.start();
        try {
            int cout = weight.rows();
            int kk = cin * kh * kw;
            if (weight.cols() != kk)
                throw new IllegalArgumentException("conv weight has " + weight.cols() + " columns, expected cin*kh*kw = " + kk);
            checkBias(bias, cout);
            if (stride < 1 || padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0)
                throw new IllegalArgumentException("conv stride must be >= 1 and padding >= 0");
            int oh = outSize(h, kh, stride, padTop, padBottom), ow = outSize(w, kw, stride, padLeft, padRight);
            if (oh <= 0 || ow <= 0) throw new IllegalArgumentException("conv output would be empty: " + h + "x" + w + " kernel " + kh + "x" + kw);
            if (kh == 3 && kw == 3 && stride == 1 && padTop == 1 && padLeft == 1 && padBottom == 1 && padRight == 1) {
                float[] u = Winograd.filtersFor(weight, cin, oh, ow);
                if (u != null) {
                    Winograd.forward(x, n, cin, h, w, u, cout, bias, y);
                    return;
                }
            }
            int hw = oh * ow;
            boolean direct = kh == 1 && kw == 1 && stride == 1 && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0;
            GemmKernel.PackA pa = GemmKernel.packA(weight);
            float[] shared = direct ? null : sharedIm2col(cout, hw, kk);
            for (int b = 0; b < n; b++) {
                int xOff = b * cin * h * w;
                GemmKernel.PackB pb = direct ? GemmKernel.packB(x, xOff, hw, false)
                        : im2colPacker(x, xOff, h, w, kh, kw, stride, padTop, padLeft, ow);
                if (shared != null) pb = packedOnce(pb, kk, hw, shared);
                GemmKernel.gemm(cout, hw, kk, 1f, pa, pb, 0f, y, b * cout * hw, hw, bias, null);
            }
        } finally {
            Profiler.stop(kh == 3 && kw == 3 ? Profiler.Op.CONV3X3 : kh == 1 && kw == 1 ? Profiler.Op.CONV1X1 : Profiler.Op.CONV_OTHER, prof0, 2L * n * weight.rows() * weight.cols() * outSize(h, kh, stride, padTop, padBottom) * outSize(w, kw, stride, padLeft, padRight), weight.rows(), cin, h, w, stride);
        }
    }

    private static void checkBias(float[] bias, int cout) {
        if (bias != null && bias.length < cout)
            throw new IllegalArgumentException("conv bias has " + bias.length + " values, expected " + cout);
    }

    /**
     * The transformed filters with which a 3x3 conv of weight (stride 1, padding 1) runs an image of oh x ow outputs by
     * Winograd, or null where {@link #forward} runs that image directly. Decided from the whole image's shape, so that
     * every band of it ({@link #forwardRows}) takes the path the whole image would.
     */
    public static float[] winogradFilters(Matrix weight, int cin, int oh, int ow) {
        if (weight.cols() != cin * 9)
            throw new IllegalArgumentException("conv weight has " + weight.cols() + " columns, expected cin*9 = " + cin * 9);
        return Winograd.filtersFor(weight, cin, oh, ow);
    }

    /**
     * Rows of a 3x3 conv (stride 1, one column of zero padding at each side) by Winograd with filters u from
     * {@link #winogradFilters}: x is one image of ih rows with padTop and padBottom (each 0 or 1) rows of zeros above and
     * below it, y gets its ih + padTop + padBottom - 2 output rows. A band of an image's output rows starting at an even
     * row, given the input rows it reads, equals those rows of {@link #forward} on the whole image bit for bit.
     */
    public static void forwardRows(float[] x, int cin, int ih, int w, int padTop, int padBottom, float[] u, int cout,
                                   float[] bias, float[] y) {
        long prof0 = Profiler.start();
        int oh = ih + padTop + padBottom - 2;
        try {
            checkBias(bias, cout);
            Winograd.forwardRows(x, 1, cin, ih, w, padTop, padBottom, u, cout, bias, y, Winograd.CHUNK_FLOATS);
        } finally {
            Profiler.stop(Profiler.Op.CONV3X3, prof0, 2L * cout * cin * 9 * Math.max(0, oh) * w, cout, cin, ih, w, 1);
        }
    }

    /**
     * Floats (16 MB) up to which a conv's im2col matrix is packed once, in parallel, for all the GEMM's row tiles
     * ({@link #packedOnce}), rather than gathered again by each: the small images of the U-Net's deepest levels
     * (1280 channels at 8 x 8: 11520 x 64 floats, eight row tiles) spent a third of their time in im2col.
     */
    static final long SHARED_IM2COL_FLOATS = 4L << 20;

    /**
     * A buffer for a conv's im2col matrix (K x N, in whole panels) packed once, when its GEMM (M x N x K) has several
     * row tiles and the matrix fits {@link #SHARED_IM2COL_FLOATS}; else null.
     */
    static float[] sharedIm2col(int M, int N, int K) {
        int[] grid = GemmKernel.grid(M, N, GemmKernel.taskTarget(2.0 * M * N * K), false);
        long floats = (long) (N + GemmKernel.NR - 1) / GemmKernel.NR * GemmKernel.NR * K;
        return (M + grid[0] - 1) / grid[0] > 1 && floats <= SHARED_IM2COL_FLOATS ? new float[(int) floats] : null;
    }

    /**
     * B (K x N) packed whole by pb, panel by panel in parallel, into all (at least K x N rounded up to whole panels) in
     * the layout a K-deep pack gives (panel q at q * K * NR); the packer returned copies the rows [k0, k0 + kc) of each
     * panel from it.
     */
    static GemmKernel.PackB packedOnce(GemmKernel.PackB pb, int K, int N, float[] all) {
        final int NR = GemmKernel.NR;
        int panels = (N + NR - 1) / NR;
        Parallel.forRange(panels, 1, (q0, q1) -> pb.pack(0, K, q0 * NR, Math.min(N, q1 * NR) - q0 * NR, all, q0 * K * NR));
        return (k0, kc, j0, nc, dst, off) -> {
            for (int q = 0; q * NR < nc; q++)
                System.arraycopy(all, (j0 / NR + q) * K * NR + k0 * NR, dst, off + q * kc * NR, kc * NR);
        };
    }

    /**
     * Implicit GEMM: packs the im2col matrix B[(c,ky,kx), (oy,ox)] panel by panel straight from x, so no
     * full im2col buffer exists. Runs of output pixels in one output row are copied as contiguous slices.
     */
    static GemmKernel.PackB im2colPacker(float[] x, int xOff, int h, int w, int kh, int kw, int stride, int pt, int pl, int ow) {
        final int NR = GemmKernel.NR, khw = kh * kw;
        return (k0, kc, j0, nc, dst, off) -> {
            for (int q = 0; q < nc; q += NR) {
                int nr = Math.min(NR, nc - q), base = off + (q / NR) * kc * NR, n0 = j0 + q;
                for (int kk = 0; kk < kc; kk++) {
                    int k = k0 + kk, c = k / khw, r = k - c * khw, ky = r / kw, kx = r - ky * kw;
                    int d = base + kk * NR;
                    int j = 0;
                    while (j < nr) {
                        int pix = n0 + j, oy = pix / ow, ox = pix - oy * ow;
                        int seg = Math.min(nr - j, ow - ox);
                        int iy = oy * stride - pt + ky;
                        if (iy < 0 || iy >= h) {
                            java.util.Arrays.fill(dst, d + j, d + j + seg, 0f);
                        } else {
                            int rowBase = xOff + (c * h + iy) * w;
                            if (stride == 1) {
                                int ix0 = ox - pl + kx;
                                int lo = Math.min(seg, Math.max(0, -ix0)), hi = Math.max(lo, Math.min(seg, w - ix0));
                                for (int t = 0; t < lo; t++) dst[d + j + t] = 0f;
                                if (hi > lo) System.arraycopy(x, rowBase + ix0 + lo, dst, d + j + lo, hi - lo);
                                for (int t = hi; t < seg; t++) dst[d + j + t] = 0f;
                            } else {
                                for (int t = 0; t < seg; t++) {
                                    int ix = (ox + t) * stride - pl + kx;
                                    dst[d + j + t] = ix < 0 || ix >= w ? 0f : x[rowBase + ix];
                                }
                            }
                        }
                        j += seg;
                    }
                    for (; j < NR; j++) dst[d + j] = 0f;
                }
            }
        };
    }
}

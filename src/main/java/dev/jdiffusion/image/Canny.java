package dev.jdiffusion.image;

import dev.jdiffusion.tensor.Tensor;

/**
 * Canny edge detection as scikit-image's {@code feature.canny} (0.19) computes it, for ControlNet control images:
 * <ol>
 * <li>Gaussian smoothing (sigma, kernel radius int(4 sigma + 0.5), zeros outside the image, renormalised by the
 *     smoothed all-ones image);</li>
 * <li>Sobel gradients (scipy's {@code ndimage.sobel}, mirrored edges), magnitude = hypot;</li>
 * <li>non-maximum suppression along the gradient, interpolating between the two neighbours it falls between; the
 *     outermost pixels are never edges;</li>
 * <li>hysteresis: 8-connected runs of maxima at or above the low threshold that contain one at or above the high
 *     threshold.</li>
 * </ol>
 * Thresholds are on the 0..255 scale of the image's grey levels (skimage's for 8-bit images); A1111's default
 * 100 / 200 picks strong edges, lower values pick more. All arithmetic is in double.
 */
public final class Canny {
    private Canny() {}

    /** A1111's default thresholds. */
    public static final double DEFAULT_LOW = 100, DEFAULT_HIGH = 200, DEFAULT_SIGMA = 1.0;

    /**
     * White edges on black, as an RGB control image [1, 3, H, W] in [0, 1], from an image [1, C, H, W] in [0, 1]
     * (smoothing sigma {@link #DEFAULT_SIGMA}).
     *
     * @param image01 the image, [1, 3, H, W] (RGB, reduced to grey as {@link #grey}) or [1, 1, H, W], values in [0, 1]
     * @param low     low hysteresis threshold on the 0..255 scale ({@link #DEFAULT_LOW} as A1111)
     * @param high    high hysteresis threshold on the 0..255 scale, at least {@code low} ({@link #DEFAULT_HIGH})
     * @return a new [1, 3, H, W] tensor, 1 on edge pixels in all three channels and 0 elsewhere
     * @throws IllegalArgumentException when the thresholds do not satisfy 0 &lt;= low &lt;= high
     */
    public static Tensor controlImage(Tensor image01, double low, double high) {
        boolean[] e = edges(grey(image01), image01.dim(2), image01.dim(3), DEFAULT_SIGMA, low, high);
        int hw = e.length;
        float[] d = new float[3 * hw];
        for (int i = 0; i < hw; i++) if (e[i]) d[i] = d[hw + i] = d[2 * hw + i] = 1f;
        return new Tensor(d, 1, 3, image01.dim(2), image01.dim(3));
    }

    /**
     * Grey levels of an image as PIL's {@code convert("L")} gives them: each channel quantised to 8 bits first
     * ({@link Images#toByte}), then ITU-R 601 luma in PIL's fixed point.
     *
     * @param image01 [1, 3, H, W] (RGB) or [1, 1, H, W] (already grey), values in [0, 1]
     * @return a new row-major H x W array of grey levels in [0, 1], multiples of 1/255
     */
    public static double[] grey(Tensor image01) {
        int hw = image01.dim(2) * image01.dim(3);
        float[] s = image01.data();
        double[] g = new double[hw];
        if (image01.dim(1) == 1) {
            for (int i = 0; i < hw; i++) g[i] = Images.toByte(s[i]) / 255.0;
            return g;
        }
        for (int i = 0; i < hw; i++) {
            int r = Images.toByte(s[i]), gr = Images.toByte(s[hw + i]), b = Images.toByte(s[2 * hw + i]);
            g[i] = ((r * 19595 + gr * 38470 + b * 7471 + 0x8000) >> 16) / 255.0;
        }
        return g;
    }

    /**
     * The edge map of a grey image (row-major, h x w, values in [0, 1]).
     *
     * @param grey  row-major grey levels in [0, 1], {@code h * w} of them (e.g. from {@link #grey}); not modified
     * @param h     image height in pixels
     * @param w     image width in pixels
     * @param sigma standard deviation of the Gaussian smoothing in pixels, above 0 ({@link #DEFAULT_SIGMA})
     * @param low   low hysteresis threshold on the 0..255 scale
     * @param high  high threshold on the 0..255 scale, at least low
     * @return a new row-major h x w array, true on edge pixels (never on the outermost rows and columns)
     * @throws IllegalArgumentException when sigma is not above 0 or the thresholds do not satisfy 0 &lt;= low &lt;= high
     */

    public static boolean[] edges(double[] grey, int h, int w, double sigma, double low, double high) {
        if (!(low >= 0 && high >= low)) throw new IllegalArgumentException("canny thresholds must satisfy 0 <= low <= high, got " + low + ", " + high);
        if (!(sigma > 0)) throw new IllegalArgumentException("canny sigma must be > 0, got " + sigma);
        double lo = low / 255.0, hi = high / 255.0;
        double[] ones = new double[h * w];
        java.util.Arrays.fill(ones, 1.0);
        double[] sm = gaussian(grey, h, w, sigma), bleed = gaussian(ones, h, w, sigma);
        double eps = Math.ulp(1.0);
        for (int i = 0; i < sm.length; i++) sm[i] /= bleed[i] + eps;
        double[] js = sobel(sm, h, w, true), is = sobel(sm, h, w, false), mag = new double[h * w];
        for (int i = 0; i < mag.length; i++) mag[i] = Math.hypot(is[i], js[i]);
        boolean[] max = localMaxima(is, js, mag, h, w);
        // hysteresis: flood from every strong maximum through 8-connected maxima >= low
        boolean[] out = new boolean[h * w];
        int[] stack = new int[h * w];
        for (int p = 0; p < h * w; p++) {
            if (out[p] || !max[p] || !(mag[p] >= hi)) continue;
            int sp = 0;
            stack[sp++] = p;
            out[p] = true;
            while (sp > 0) {
                int q = stack[--sp], y = q / w, x = q % w;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                        int r = yy * w + xx;
                        if (!out[r] && max[r] && mag[r] >= lo) {
                            out[r] = true;
                            stack[sp++] = r;
                        }
                    }
            }
        }
        return out;
    }

    /** scipy.ndimage.gaussian_filter, mode constant (0), truncate 4: axis 0 (columns) first, then axis 1, as scipy. */
    static double[] gaussian(double[] a, int h, int w, double sigma) {
        int r = (int) (4.0 * sigma + 0.5);
        double[] k = new double[2 * r + 1];
        double sum = 0;
        double s2 = sigma * sigma;
        for (int i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-0.5 / s2 * (i * i));
        for (int i = 0; i < k.length; i++) k[i] /= sum;
        double[] t = new double[h * w], o = new double[h * w];
        for (int y = 0; y < h; y++) // axis 0
            for (int x = 0; x < w; x++) {
                double s = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = y + i;
                    if (yy >= 0 && yy < h) s += k[i + r] * a[yy * w + x];
                }
                t[y * w + x] = s;
            }
        for (int y = 0; y < h; y++) // axis 1
            for (int x = 0; x < w; x++) {
                double s = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = x + i;
                    if (xx >= 0 && xx < w) s += k[i + r] * t[y * w + xx];
                }
                o[y * w + x] = s;
            }
        return o;
    }

    /** scipy.ndimage.sobel with mode reflect (d c b a | a b c d): [-1, 0, 1] along the axis, [1, 2, 1] across it. */
    static double[] sobel(double[] a, int h, int w, boolean alongColumns) {
        double[] t = new double[h * w], o = new double[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                t[y * w + x] = alongColumns ? at(a, h, w, y, x + 1) - at(a, h, w, y, x - 1) : at(a, h, w, y + 1, x) - at(a, h, w, y - 1, x);
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                o[y * w + x] = alongColumns ? at(t, h, w, y - 1, x) + 2 * t[y * w + x] + at(t, h, w, y + 1, x)
                        : at(t, h, w, y, x - 1) + 2 * t[y * w + x] + at(t, h, w, y, x + 1);
            }
        return o;
    }

    private static double at(double[] a, int h, int w, int y, int x) {
        y = y < 0 ? -y - 1 : y >= h ? 2 * h - y - 1 : y;
        x = x < 0 ? -x - 1 : x >= w ? 2 * w - x - 1 : x;
        return a[y * w + x];
    }

    /** skimage's _get_local_maxima, point by point (the border is excluded, as its eroded mask does). */
    static boolean[] localMaxima(double[] is, double[] js, double[] mag, int h, int w) {
        boolean[] out = new boolean[h * w];
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++) {
                int p = y * w + x;
                double m = mag[p];
                if (!(m > 0)) continue;
                double ai = Math.abs(is[p]), aj = Math.abs(js[p]);
                boolean horizontal = ai >= aj, vertical = ai <= aj;
                boolean up = is[p] >= 0, down = is[p] <= 0, right = js[p] >= 0, left = js[p] <= 0;
                boolean diag = (up && right) || (down && left), anti = (down && right) || (up && left);
                boolean r = false;
                // Each case: neighbours (c1 along the normal's main axis, c2 diagonal) on both sides, weight num/den.
                // A point in several cases (on a 45-degree line, or a zero component) keeps the last one's answer,
                // as skimage's successive assignments do.
                if (diag && horizontal) r = maxAlong(mag, p, aj / ai, w, w + 1, -w, -w - 1);
                if (diag && vertical) r = maxAlong(mag, p, ai / aj, 1, w + 1, -1, -w - 1);
                if (anti && vertical) r = maxAlong(mag, p, ai / aj, 1, -w + 1, -1, w - 1);
                if (anti && horizontal) r = maxAlong(mag, p, aj / ai, -w, -w + 1, w, w - 1);
                out[p] = r;
            }
        return out;
    }

    private static boolean maxAlong(double[] mag, int p, double wt, int c1p, int c2p, int c1m, int c2m) {
        double m = mag[p];
        boolean plus = mag[p + c2p] * wt + mag[p + c1p] * (1 - wt) <= m;
        boolean minus = mag[p + c2m] * wt + mag[p + c1m] * (1 - wt) <= m;
        return plus && minus;
    }
}

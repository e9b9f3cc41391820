package dev.jdiffusion.kernels;

/** Numerically stable softmax over contiguous rows. */
public final class Softmax {
    private Softmax() {}

    /** In place on rows x cols starting at off. */
    public static void rows(float[] x, int off, int rows, int cols) {
        for (int r = 0; r < rows; r++) row(x, off + r * cols, cols);
    }

    /** In place on one row of n values. */
    public static void row(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        if (max == Float.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(x, off, off + n, 0f);
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }
}

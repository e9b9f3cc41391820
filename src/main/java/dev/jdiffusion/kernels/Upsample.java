package dev.jdiffusion.kernels;

/** Nearest-neighbour resizing of NCHW arrays, with PyTorch's index rule (src = floor(dst * in / out)). */
public final class Upsample {
    private Upsample() {}

    /** Resizes x (n, c, h, w) to y (n, c, oh, ow). */
    public static void nearest(float[] x, int n, int c, int h, int w, int oh, int ow, float[] y) {
        long prof0 = Profiler.start();
        try {
            float sy = (float) h / oh, sx = (float) w / ow;
            int[] xs = new int[ow];
            for (int ox = 0; ox < ow; ox++) xs[ox] = Math.min((int) Math.floor(ox * sx), w - 1);
            Parallel.forRange(n * c, (p0, p1) -> {
                for (int p = p0; p < p1; p++) {
                    int xo = p * h * w, yo = p * oh * ow;
                    for (int oy = 0; oy < oh; oy++) {
                        int iy = Math.min((int) Math.floor(oy * sy), h - 1);
                        for (int ox = 0; ox < ow; ox++) y[yo + oy * ow + ox] = x[xo + iy * w + xs[ox]];
                    }
                }
            });
        } finally {
            Profiler.stop(Profiler.Op.RESIZE, prof0, 0);
        }
    }

    /** Exact 2x nearest upsample. */
    public static void nearest2x(float[] x, int n, int c, int h, int w, float[] y) { nearest(x, n, c, h, w, 2 * h, 2 * w, y); }
}

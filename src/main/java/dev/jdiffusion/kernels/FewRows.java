package dev.jdiffusion.kernels;

/**
 * The linear layer for a handful of input rows (time-embedding projections: one row per image): each weight row
 * is read once (converted from F16/BF16 into a small buffer), instead of packing the whole weight into GEMM panels
 * for a 4-row micro-kernel that would use one or two of its rows. Memory-bound; parallel over output features.
 *
 * <p>Every output sums its products in exactly the order of {@link GemmKernel} (a fused multiply-add chain from
 * zero over each block of {@link GemmKernel#KC} inputs, the bias added to the first block's sum, later blocks'
 * sums added in order), so a row's result does not depend on how many rows the call has, nor on the thread count.
 * Eight outputs are summed side by side (independent chains keep the FMA units busy).
 */
final class FewRows {
    private FewRows() {}

    /**
     * Up to this many rows go through here (the time embedding of one image, or two with classifier-free
     * guidance). Measured against the packed GEMM, F16, interleaved: 1x1280x1280 454 vs 1255 µs, 2x1280x640
     * 578 vs 542 µs, 4x1280x1280 1896 vs 1128 µs (the scalar chains cost per row; the GEMM's per weight).
     */
    static final int MAX_ROWS = 2;
    private static final int G = 8;

    /** y[r, o] = x[r, :] · w[o, :] + bias[o] for r < rows (see {@link Gemm#linear}). */
    static void linear(float[] x, int xOff, int rows, Matrix w, float[] bias, float[] y, int yOff) {
        int in = w.cols(), out = w.rows();
        int groups = (out + G - 1) / G;
        int grain = Math.max(1, (1 << 15) / Math.max(1, in * G));   // about 32K weights per chunk
        Parallel.forRange(groups, grain, (g0, g1) -> {
            float[] wr = new float[G * in];
            float[] acc = new float[G];
            for (int g = g0; g < g1; g++) {
                int o0 = g * G, n = Math.min(G, out - o0);
                for (int j = 0; j < n; j++) w.readRow(o0 + j, 0, wr, j * in, in);
                for (int r = 0; r < rows; r++) {
                    int xr = xOff + r * in;
                    for (int k0 = 0; k0 < in; k0 += GemmKernel.KC) {
                        int k1 = Math.min(in, k0 + GemmKernel.KC);
                        if (n == G) block8(x, xr, wr, in, k0, k1, acc);
                        else for (int j = 0; j < n; j++) acc[j] = chain(x, xr, wr, j * in, k0, k1);
                        for (int j = 0; j < n; j++) {
                            int yi = yOff + r * out + o0 + j;
                            if (k0 == 0) y[yi] = bias == null ? acc[j] : acc[j] + bias[o0 + j];
                            else y[yi] = acc[j] + y[yi];
                        }
                    }
                }
            }
        });
    }

    private static float chain(float[] x, int xr, float[] w, int wo, int k0, int k1) {
        float s = 0f;
        for (int k = k0; k < k1; k++) s = Math.fma(w[wo + k], x[xr + k], s);
        return s;
    }

    /** Eight chains over k in [k0, k1) for the eight weight rows in w (row j at j * in). */
    private static void block8(float[] x, int xr, float[] w, int in, int k0, int k1, float[] acc) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
        for (int k = k0; k < k1; k++) {
            float a = x[xr + k];
            s0 = Math.fma(w[k], a, s0);
            s1 = Math.fma(w[in + k], a, s1);
            s2 = Math.fma(w[2 * in + k], a, s2);
            s3 = Math.fma(w[3 * in + k], a, s3);
            s4 = Math.fma(w[4 * in + k], a, s4);
            s5 = Math.fma(w[5 * in + k], a, s5);
            s6 = Math.fma(w[6 * in + k], a, s6);
            s7 = Math.fma(w[7 * in + k], a, s7);
        }
        acc[0] = s0; acc[1] = s1; acc[2] = s2; acc[3] = s3;
        acc[4] = s4; acc[5] = s5; acc[6] = s6; acc[7] = s7;
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Parallel;

/** Layout changes between channel-major images ({@code [B, C, HW]}) and token-major rows ({@code [B, HW, C]}), and channel concatenation. */
final class Layout {
    private Layout() {}

    /** [B, C, HW] -> [B, HW, C]. */
    static float[] toTokens(float[] x, int b, int c, int hw) {
        float[] y = new float[x.length];
        Parallel.forRange(b * c, 16, (s, e) -> {
            for (int bc = s; bc < e; bc++) {
                int bi = bc / c, ch = bc % c, src = bc * hw, dst = bi * hw * c + ch;
                for (int i = 0; i < hw; i++) y[dst + i * c] = x[src + i];
            }
        });
        return y;
    }

    /** [B, HW, C] -> [B, C, HW]. */
    static float[] toChannels(float[] x, int b, int c, int hw) {
        float[] y = new float[x.length];
        Parallel.forRange(b * c, 16, (s, e) -> {
            for (int bc = s; bc < e; bc++) {
                int bi = bc / c, ch = bc % c, dst = bc * hw, src = bi * hw * c + ch;
                for (int i = 0; i < hw; i++) y[dst + i] = x[src + i * c];
            }
        });
        return y;
    }

    /** Concatenates [B, c1, HW] and [B, c2, HW] along channels. */
    static float[] concatChannels(float[] a, int c1, float[] b2, int c2, int b, int hw) {
        float[] y = new float[b * (c1 + c2) * hw];
        for (int i = 0; i < b; i++) {
            System.arraycopy(a, i * c1 * hw, y, i * (c1 + c2) * hw, c1 * hw);
            System.arraycopy(b2, i * c2 * hw, y, (i * (c1 + c2) + c1) * hw, c2 * hw);
        }
        return y;
    }
}

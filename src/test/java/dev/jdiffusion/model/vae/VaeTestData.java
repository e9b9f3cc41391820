package dev.jdiffusion.model.vae;

import dev.jdiffusion.tensor.Tensor;

import java.util.Random;

/** Deterministic test inputs. */
final class VaeTestData {
    private VaeTestData() {}

    static Tensor latent(int n, int c, int h, int w, long seed) {
        Random r = new Random(seed);
        Tensor t = Tensor.zeros(n, c, h, w);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) r.nextGaussian();
        return t;
    }

    /** A smooth latent (low-frequency waves): what a real latent looks like more than white noise does. */
    static Tensor smoothLatent(int n, int c, int h, int w) {
        Tensor t = Tensor.zeros(n, c, h, w);
        float[] d = t.data();
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        d[((b * c + ch) * h + y) * w + x] = (float) (Math.sin(0.31 * x + 0.7 * ch) + Math.cos(0.23 * y - 0.4 * ch) + 0.3 * b);
        return t;
    }
}

package dev.jdiffusion.model.vae;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TiledDecodeTest {
    static final Path VAE = Golden.resolve("models/tiny-sd1/vae");

    /**
     * Tiled vs untiled decode of the tiny golden VAE. Per-tile GroupNorm statistics and zero padding at tile borders
     * make tiles differ from the untiled decode (as with diffusers' tiled_decode), by how much depends on the model
     * (its receptive field against the tile), so every bound is relative to the same model and latent: tiles cut
     * hard (no overlap, boundaries at the same pixels) show the seam the blending must remove. Seam statistic, on the
     * difference to the untiled decode (a seam is a jump in that difference; the model's own image content cancels):
     * mean jump between neighbouring pixels across the tile boundaries / mean jump elsewhere, 1 without seams. The
     * blended decode's excess over 1 must be at most half the hard cut's, and the blended decode must be closer to
     * the untiled one than the hard cut is. (Measured on the tiny golden VAE: 1.11 vs 1.37 on noise, 1.02 vs 1.78 on
     * a smooth latent; with the blending switched off 2.29 on noise.)
     */
    @Test
    void tiledDecodeAgreesWithUntiledAndHasNoSeams() {
        try (TensorSource s = Checkpoint.openWeights(VAE)) {
            AutoencoderKL vae = AutoencoderKL.load(s, Golden.json(VAE.resolve("config.json")));
            check(vae, 16, VaeTestData.latent(1, 4, 20, 26, 5));
            check(vae, 16, VaeTestData.smoothLatent(1, 4, 20, 26));
        }
    }

    static void check(AutoencoderKL vae, int tile, Tensor z) {
        int f = vae.spatialFactor(), step = (int) (tile * 0.75f);
        vae.setTileSize(tile, 0.25f);
        Tensor full = vae.decode(z, AutoencoderKL.Tiling.OFF);
        Tensor blended = vae.decode(z, AutoencoderKL.Tiling.ON);
        // tiles of `step` latents side by side, no overlap: boundaries at the same pixels as the blended decode's
        Tensor hard = TiledDecoder.decode(z, step, 0f, f, full.dim(1), t -> vae.decode(t, AutoencoderKL.Tiling.OFF));
        assertArrayEquals(full.shape(), blended.shape());
        assertArrayEquals(full.shape(), hard.shape());
        int px = step * f;
        double db = seamRatio(minus(blended, full), px), dh = seamRatio(minus(hard, full), px);
        double eb = relRms(full, blended), eh = relRms(full, hard);
        System.out.printf("tile %d: difference to untiled, jump across tile boundaries / jump elsewhere: blended %.3f, hard-cut %.3f;"
                + " relative rms to untiled: blended %.3f, hard-cut %.3f%n", tile, db, dh, eb, eh);
        assertTrue(dh > 1, "hard-cut tiles show no seam in their difference to untiled (" + dh + "): the check cannot see one");
        assertTrue(db - 1 <= 0.5 * (dh - 1), "seams: the blended decode's difference to untiled jumps " + db
                + "x as much across tile boundaries as elsewhere (hard-cut tiles: " + dh + "x)");
        assertTrue(eb < eh, "blended tiles are not closer to untiled than hard-cut tiles: relative rms " + eb + " vs " + eh);
    }

    static Tensor minus(Tensor a, Tensor b) {
        float[] x = a.data(), y = b.data(), d = new float[x.length];
        for (int i = 0; i < d.length; i++) d[i] = x[i] - y[i];
        return new Tensor(d, a.shape());
    }

    static double relRms(Tensor ref, Tensor got) {
        float[] a = ref.data(), b = got.data();
        double se = 0, ss = 0;
        for (int i = 0; i < a.length; i++) {
            se += (a[i] - b[i]) * (double) (a[i] - b[i]);
            ss += a[i] * (double) a[i];
        }
        return Math.sqrt(se / ss);
    }

    /** Mean jump between neighbouring pixels across positions that are multiples of step / mean jump elsewhere. */
    static double seamRatio(Tensor img, int step) {
        int c = img.dim(1), h = img.dim(2), w = img.dim(3);
        float[] b = img.data();
        double boundary = 0, elsewhere = 0;
        int nb = 0, ne = 0;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int i = (ch * h + y) * w + x;
                    if (x > 0) {
                        double d = Math.abs(b[i] - b[i - 1]);
                        if (x % step == 0) { boundary += d; nb++; } else { elsewhere += d; ne++; }
                    }
                    if (y > 0) {
                        double d = Math.abs(b[i] - b[i - w]);
                        if (y % step == 0) { boundary += d; nb++; } else { elsewhere += d; ne++; }
                    }
                }
        return (boundary / nb) / (elsewhere / ne);
    }

    /** With a local decoder (nearest 8x upsampling, per channel) tiling must reproduce the untiled output exactly. */
    @Test
    void tileAssemblyAndBlendingAreExactForALocalDecoder() {
        java.util.function.UnaryOperator<Tensor> up8 = t -> {
            Tensor y = Tensor.zeros(t.dim(0), t.dim(1), 8 * t.dim(2), 8 * t.dim(3));
            dev.jdiffusion.kernels.Upsample.nearest(t.data(), t.dim(0), t.dim(1), t.dim(2), t.dim(3), y.dim(2), y.dim(3), y.data());
            return y;
        };
        for (int[] hw : new int[][]{{8, 8}, {13, 29}, {24, 17}, {6, 40}}) {
            Tensor z = VaeTestData.latent(2, 3, hw[0], hw[1], hw[0] * 31 + hw[1]);
            Tensor want = up8.apply(z);
            Tensor got = TiledDecoder.decode(z, 8, 0.25f, 8, 3, up8);
            assertArrayEquals(want.shape(), got.shape());
            float[] a = want.data(), b = got.data();
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5f * (1 + Math.abs(a[i])), "element " + i + " of " + java.util.Arrays.toString(hw));
        }
    }

    @Test
    void smallLatentsAreNeverTiledAndAutoTilesOnlyLargeOnes() {
        try (TensorSource s = Checkpoint.openWeights(VAE)) {
            AutoencoderKL vae = AutoencoderKL.load(s, Golden.json(VAE.resolve("config.json")));
            vae.setTileSize(8, 0.25f);
            Tensor z = VaeTestData.latent(1, 4, 8, 8, 1);
            // one tile: identical to the untiled decode
            assertArrayEquals(vae.decode(z, AutoencoderKL.Tiling.OFF).data(), vae.decode(z, AutoencoderKL.Tiling.ON).data());
            Tensor z2 = VaeTestData.latent(1, 4, 12, 12, 2);
            // AUTO leaves a 12x12 latent alone (below AUTO_TILE_LATENT_PIXELS)
            assertArrayEquals(vae.decode(z2, AutoencoderKL.Tiling.OFF).data(), vae.decode(z2).data());
            assertEquals(AutoencoderKL.Tiling.AUTO, vae.tiling());
            assertThrows(IllegalArgumentException.class, () -> vae.setTileSize(7, 0.3f));
        }
    }
}

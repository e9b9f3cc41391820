package dev.jdiffusion.image;

import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Canny against scikit-image 0.19.3's {@code feature.canny} on a real photo (skimage.data.coins, Brooklyn Museum,
 * no known copyright restrictions): coins_canny.png was made by canny_reference.py beside it (sigma 2, thresholds
 * 20 / 50 on the 0..255 scale). Measured agreement: every pixel equal (0 of 116,352 differ); the test allows
 * 0.1 % of the pixels to differ, for last-bit differences in the smoothing sums deciding a tie.
 */
class CannyTest {
    static Path resource(String name) throws Exception {
        return Path.of(CannyTest.class.getResource(name).toURI());
    }

    @Test
    void matchesScikitImageOnAPhoto() throws Exception {
        Tensor photo = Images.read(resource("coins.png")), ref = Images.read(resource("coins_canny.png"));
        int h = photo.dim(2), w = photo.dim(3);
        boolean[] mine = Canny.edges(Canny.grey(photo), h, w, 2.0, 20, 50);
        int refEdges = 0, ours = 0, differ = 0, both = 0;
        for (int i = 0; i < h * w; i++) {
            boolean r = ref.data()[i] > 0.5f;
            if (r) refEdges++;
            if (mine[i]) ours++;
            if (r != mine[i]) differ++;
            if (r && mine[i]) both++;
        }
        System.out.printf("canny vs skimage on coins %dx%d: %d reference edge pixels, %d ours, %d in both, %d of %d pixels differ (%.4f %%)%n",
                w, h, refEdges, ours, both, differ, h * w, 100.0 * differ / (h * w));
        assertTrue(refEdges > 1000, "the reference has edges");
        assertTrue(differ <= h * w / 1000, differ + " pixels differ from scikit-image's edges");
    }

    @Test
    void controlImageIsWhiteEdgesOnBlackAndThresholdsOrderEdges() {
        int h = 32, w = 32;
        float[] d = new float[3 * h * w];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 16; x < w; x++) d[(c * h + y) * w + x] = 1f; // a vertical step
        Tensor img = new Tensor(d, 1, 3, h, w);
        Tensor e = Canny.controlImage(img, Canny.DEFAULT_LOW, Canny.DEFAULT_HIGH);
        assertArrayEquals(new int[]{1, 3, h, w}, e.shape());
        int edges = 0;
        for (int y = 2; y < h - 2; y++) {
            // the two pixels beside the step have equal gradients: either or both are maxima (a tie)
            assertTrue(e.data()[y * w + 15] + e.data()[y * w + 16] >= 1f, "edge at the step, row " + y);
            for (int x = 0; x < w; x++) {
                float v = e.data()[y * w + x];
                if (x != 15 && x != 16) assertEquals(0f, v, "no edge away from the step, row " + y + " column " + x);
                if (v > 0) edges++;
            }
        }
        assertTrue(edges > 0);
        for (float v : e.data()) assertTrue(v == 0f || v == 1f);
        // a step of 10 grey levels is below the default thresholds, above low ones
        for (int i = 0; i < d.length; i++) d[i] *= 10f / 255f;
        assertEquals(0, count(Canny.controlImage(img, 100, 200)));
        assertTrue(count(Canny.controlImage(img, 5, 10)) > 0);
        assertThrows(IllegalArgumentException.class, () -> Canny.controlImage(img, 50, 10));
    }

    private static int count(Tensor t) {
        int n = 0;
        for (float v : t.data()) if (v > 0) n++;
        return n;
    }
}

package dev.jdiffusion.pipeline;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tiny golden models and small helpers shared by the pipeline tests. */
final class TinyModels {
    private TinyModels() {}

    /** The tiny SD 1.x diffusers folder (text encoder, tokenizer, U-Net, VAE, scheduler). */
    static Path sd1() { return Golden.resolve("models/tiny-sd1"); }

    /** The same model as one single-file checkpoint. */
    static Path sd1SingleFile() { return Golden.resolve("models/tiny-sd1.safetensors"); }

    /** The TAESD folder (encoder and decoder). */
    static Path taesd() { return Golden.resolve("models/taesd"); }

    /** The tiny LCM U-Net with the tiny SD1's text encoder, tokenizer and VAE. */
    static ModelOptions lcm() {
        Path base = sd1();
        return ModelOptions.of(Golden.resolve("models/tiny-lcm")).withTextEncoder(base.resolve("text_encoder"))
                .withTokenizer(base.resolve("tokenizer")).withVae(base.resolve("vae"));
    }

    /** A small text-to-image request: 64x64, 3 steps, seed given. */
    static GenerationRequest.Builder small(String prompt, long seed) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(3).seed(seed);
    }

    /** Asserts every image is [3, h, w] with finite values in [0, 1]. */
    static void assertImages(List<Tensor> images, int n, int h, int w) {
        assertEquals(n, images.size());
        for (Tensor t : images) {
            assertArrayEquals(new int[]{3, h, w}, t.shape());
            assertUnit(t);
        }
    }

    /** Asserts all values are finite and in [0, 1]. */
    static void assertUnit(Tensor t) {
        for (float v : t.data()) assertTrue(v >= 0f && v <= 1f, "value " + v + " outside [0, 1] in " + t);
    }

    static boolean same(Tensor a, Tensor b) { return java.util.Arrays.equals(a.data(), b.data()); }

    static double maxDiff(Tensor a, Tensor b) {
        double m = 0;
        for (int i = 0; i < a.numel(); i++) m = Math.max(m, Math.abs(a.data()[i] - b.data()[i]));
        return m;
    }

    /** A smooth synthetic [1, 3, h, w] image in [0, 1]. */
    static Tensor gradient(int h, int w) {
        Tensor t = Tensor.zeros(1, 3, h, w);
        float[] d = t.data();
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    d[(c * h + y) * w + x] = (float) (0.1 + 0.8 * (c == 0 ? x / (w - 1.0) : c == 1 ? y / (h - 1.0) : 0.5 + 0.4 * Math.sin(0.3 * (x + y))));
        return t;
    }

    /** Adds a leading batch dimension to a [3, H, W] image. */
    static Tensor batched(Tensor image) { return new Tensor(image.data().clone(), 1, image.dim(0), image.dim(1), image.dim(2)); }
}

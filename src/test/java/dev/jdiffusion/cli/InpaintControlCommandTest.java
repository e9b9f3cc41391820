package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.pipeline.ControlNet;
import dev.jdiffusion.pipeline.Inpainting;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code generate --mask / --outpaint / --control} on the tiny golden models, and their bad inputs. */
class InpaintControlCommandTest {
    static final Path CASE = Golden.dir().resolve("cases/pipeline_inpaint_legacy");
    static final String CN = Golden.resolve("models/tiny-controlnet").toString();

    static VaeCommandTest.Result run(String... args) { return VaeCommandTest.run(args); }

    static String[] inpaint(Path out, String... extra) {
        String[] base = {"generate", "-m", Golden.resolve("models/tiny-sd1").toString(), "-p", "a bridge", "--steps", "2", "--seed", "5",
                "--init-image", CASE.resolve("init_image.png").toString(), "-o", out.toString()};
        String[] all = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    /** The composite keeps every pixel outside the mask exactly; --no-composite returns the model's whole image. */
    @Test void inpaintingKeepsThePixelsOutsideTheMask(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.png"), raw = dir.resolve("raw.png");
        VaeCommandTest.Result r = run(inpaint(out, "--mask", CASE.resolve("mask.png").toString(), "--mask-blur", "0", "-q"));
        assertEquals(0, r.code(), r.err());
        Tensor init = Images.read(CASE.resolve("init_image.png")), img = Images.read(out);
        Tensor mask = Inpainting.maskFromImage(Images.read(CASE.resolve("mask.png")));
        assertArrayEquals(init.shape(), img.shape());
        int hw = mask.numel(), kept = 0, changed = 0;
        for (int i = 0; i < hw; i++)
            for (int c = 0; c < 3; c++) {
                float o = init.data()[c * hw + i], g = img.data()[c * hw + i];
                if (mask.data()[i] == 0f) {
                    assertEquals(o, g, "pixel " + i + " outside the mask changed");
                    kept++;
                } else if (mask.data()[i] == 1f && o != g) changed++;
            }
        assertTrue(kept > 0 && changed > 0, kept + " kept, " + changed + " repainted");
        assertEquals(0, run(inpaint(raw, "--mask", CASE.resolve("mask.png").toString(), "--no-composite", "-q")).code());
        Tensor whole = Images.read(raw);
        int outside = 0;
        for (int i = 0; i < hw; i++) if (mask.data()[i] == 0f && whole.data()[i] != init.data()[i]) outside++;
        assertTrue(outside > 0, "without the composite the model's own pixels come back outside the mask too");
    }

    @Test void compositeBlursTheSeamOnly() {
        int h = 32, w = 32;
        Tensor orig = new Tensor(new float[3 * h * w], 1, 3, h, w), gen = new Tensor(new float[3 * h * w], 1, 3, h, w);
        java.util.Arrays.fill(gen.data(), 1f);
        float[] m = new float[h * w];
        for (int y = 0; y < h; y++) for (int x = 16; x < w; x++) m[y * w + x] = 1f;
        Tensor c = Inpainting.composite(orig, gen, new Tensor(m, 1, 1, h, w), 2);
        assertEquals(0f, c.data()[5 * w + 2], "far outside: the original");
        assertEquals(1f, c.data()[5 * w + 30], 1e-6f, "far inside: the generated image");
        float seam = c.data()[5 * w + 16];
        assertTrue(seam > 0.3f && seam < 0.8f, "at the seam a blend, got " + seam);
    }

    @Test void outpaintExtendsTheCanvasAndKeepsTheImage(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.png");
        VaeCommandTest.Result r = run(inpaint(out, "--outpaint", "8,0,8,16", "-q"));
        assertEquals(0, r.code(), r.err());
        Tensor init = Images.read(CASE.resolve("init_image.png")), img = Images.read(out);
        int h = init.dim(2), w = init.dim(3);
        assertArrayEquals(new int[]{1, 3, h + 16, w + 16}, img.shape());
        int W = w + 16, H = h + 16;
        // beyond the blur's reach (3 x 4 pixels) from the new area, the original pixels
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h - 16; y++)
                for (int x = 16; x < w - 16; x++)
                    assertEquals(init.data()[(c * h + y) * w + x], img.data()[(c * H + y) * W + x + 8], "pixel " + x + "," + y);
    }

    @Test void maskOfAnotherSizeIsResizedAndSaysSo(@TempDir Path dir) throws Exception {
        Path small = dir.resolve("small.png");
        Images.writePng(small, Images.resize(Images.read(CASE.resolve("mask.png")), 24, 32), java.util.Map.of());
        VaeCommandTest.Result r = run(inpaint(dir.resolve("out.png"), "--mask", small.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("mask " + small + " is 24x32: resized to the init image's 48x64"), r.err());
    }

    @Test void badInputsGetOneClearLine(@TempDir Path dir) throws Exception {
        Path notImage = dir.resolve("mask.png");
        Files.writeString(notImage, "not a picture");
        VaeCommandTest.Result r = run(inpaint(dir.resolve("o.png"), "--mask", notImage.toString()));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("jdiffusion generate: --mask: ") && r.err().strip().lines().count() == 1, r.err());

        // an inpainting model without a mask
        Path base = Golden.resolve("models/tiny-sd1");
        r = run("generate", "-m", Golden.resolve("models/tiny-sd1-inpaint").toString(), "--text-encoder", base.resolve("text_encoder").toString(),
                "--vae", base.resolve("vae").toString(), "-p", "x", "--steps", "1", "-W", "64", "-H", "64", "-o", dir.resolve("i.png").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("inpainting model") && r.err().contains("--mask") && r.err().strip().lines().count() == 1, r.err());

        r = run(inpaint(dir.resolve("o.png"), "--control", CN + ":" + CASE.resolve("mask.png") + ":2:0.5"));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--control takes MODEL:IMAGE"), r.err());
        r = run("generate", "-m", base.toString(), "-p", "x", "--mask", CASE.resolve("mask.png").toString());
        assertTrue(r.err().contains("--mask needs --init-image"), r.err());
        assertTrue(!Files.exists(dir.resolve("o.png")) && !Files.exists(dir.resolve("i.png")), "nothing written");
    }

    /** A ControlNet made for another base model is refused in one line naming both. */
    @Test void controlNetForAnotherFamilyIsRefused() throws Exception {
        UNetConfig sd2 = UNetConfig.fromJson(Golden.json(Golden.resolve("models/tiny-sd2-unet/config.json")));
        try (ControlNet cn = ControlNet.load(Path.of(CN))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cn.checkFits(sd2, "tiny-sd2"));
            assertTrue(e.getMessage().contains("tiny-controlnet is for another base model") && e.getMessage().contains("tiny-sd2")
                    && !e.getMessage().contains("\n"), e.getMessage());
        }
    }

    /** One and two ControlNets from the CLI, with Canny preprocessing of a resized photo; they change the image. */
    @Test void controlNetsFromTheCommandLine(@TempDir Path dir) throws Exception {
        String photo = CannyPhoto.path().toString();
        String[] base = {"generate", "-m", Golden.resolve("models/tiny-sd1").toString(), "-p", "coins", "--steps", "2", "--seed", "3",
                "-W", "64", "-H", "48", "--sampler", "ddim"};
        Path none = dir.resolve("none.png"), one = dir.resolve("one.png"), two = dir.resolve("two.png");
        assertEquals(0, run(concat(base, "-o", none.toString(), "-q")).code());
        VaeCommandTest.Result r = run(concat(base, "-o", one.toString(), "--control", CN + ":" + photo, "--control-preprocess", "canny:20:50"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("control image " + photo + " is 384x303: resized to 64x48"), r.err());
        r = run(concat(base, "-o", two.toString(), "--control", CN + ":" + photo + ":0.5", "--control", CN + ":" + photo + ":0.7:0:0.5", "-q"));
        assertEquals(0, r.code(), r.err());
        byte[] a = Images.toUint8(Images.read(none)), b = Images.toUint8(Images.read(one)), c = Images.toUint8(Images.read(two));
        assertTrue(!java.util.Arrays.equals(a, b) && !java.util.Arrays.equals(b, c), "the ControlNets change the image");
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** The Canny test's photo. */
    static final class CannyPhoto {
        static Path path() throws Exception { return Path.of(InpaintControlCommandTest.class.getResource("/dev/jdiffusion/image/coins.png").toURI()); }
    }
}

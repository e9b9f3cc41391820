package dev.jdiffusion.image;

import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImagesTest {
    @Test
    void quantisesLikeNumpyToPil() {
        // (x * 255).round() in float32 with round-half-even, after clamping
        assertEquals(0, Images.toByte(0.5f / 255f));      // 0.5 -> 0
        assertEquals(2, Images.toByte(1.5f / 255f));      // 1.5 -> 2
        assertEquals(2, Images.toByte(2.5f / 255f));      // 2.5 -> 2
        assertEquals(255, Images.toByte(1.2f));
        assertEquals(0, Images.toByte(-0.1f));
        assertEquals(0, Images.toByte(Float.NaN));
        for (int v = 0; v < 256; v++) assertEquals(v, Images.toByte(v / 255f));
        // VAE output [-1, 1] -> [0, 1] as diffusers: x / 2 + 0.5, clamped
        Tensor t = Images.fromSigned(new Tensor(new float[]{-2f, -1f, 0f, 0.5f, 1f, 3f}, 6));
        assertArrayEquals(new float[]{0f, 0f, 0.5f, 0.75f, 1f, 1f}, t.data());
    }

    @Test
    void pngRoundTripIsExactAndCarriesTheParameters(@TempDir Path dir) throws IOException {
        int h = 5, w = 7;
        Tensor img = Tensor.zeros(1, 3, h, w);
        for (int i = 0; i < img.numel(); i++) img.data()[i] = ((i * 37) % 256) / 255f;
        String params = Images.a1111Parameters("a photo of a cat", "blurry", linked("Steps", 4, "Sampler", "LCM", "CFG scale", 1,
                "Seed", 1, "Size", "512x512", "Model", "tiny"));
        assertEquals("a photo of a cat\nNegative prompt: blurry\nSteps: 4, Sampler: LCM, CFG scale: 1, Seed: 1, Size: 512x512, Model: tiny", params);
        Path f = dir.resolve("out.png");
        Images.writePng(f, img, Map.of("parameters", params, "Comment", "ünïcødé ✓"));
        Tensor back = Images.read(f);
        assertArrayEquals(img.shape(), back.shape());
        assertArrayEquals(img.data(), back.data());
        Map<String, String> text = Images.readPngText(f);
        assertEquals(params, text.get("parameters"));
        assertEquals("ünïcødé ✓", text.get("Comment"));
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temporary files left");
        }
        // [3, H, W] works too, and uint8 is HWC
        byte[] px = Images.toUint8(img.reshape(3, h, w));
        assertEquals(h * w * 3, px.length);
        assertEquals(Images.toByte(img.data()[h * w]), px[1] & 0xff);
    }

    @Test
    void writeFailuresLeaveNothing(@TempDir Path dir) throws IOException {
        Tensor img = Tensor.zeros(1, 3, 2, 2);
        IOException e = assertThrows(IOException.class, () -> Images.writePng(dir.resolve("missing/out.png"), img, Map.of()));
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
        Path ro = Files.createDirectory(dir.resolve("ro"));
        if (ro.toFile().setWritable(false) && !Files.isWritable(ro)) {
            e = assertThrows(IOException.class, () -> Images.writePng(ro.resolve("out.png"), img, Map.of()));
            assertTrue(e.getMessage().contains("not writable"), e.getMessage());
            try (var s = Files.list(ro)) {
                assertEquals(0, s.count());
            }
            ro.toFile().setWritable(true);
        }
        assertThrows(IllegalArgumentException.class, () -> Images.writePng(dir.resolve("x.png"), Tensor.zeros(1, 4, 2, 2), Map.of()));
        assertFalse(Files.exists(dir.resolve("x.png")));
    }

    @Test
    void readsGreyAlphaAndJpegAsRgb(@TempDir Path dir) throws IOException {
        BufferedImage g = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(1, 0, 0, 200);
        ImageIO.write(g, "png", dir.resolve("g.png").toFile());
        Tensor t = Images.read(dir.resolve("g.png"));
        assertArrayEquals(new int[]{1, 3, 2, 3}, t.shape());
        for (int c = 0; c < 3; c++) assertEquals(200 / 255f, t.data()[c * 6 + 1]); // grey values unchanged
        BufferedImage a = new BufferedImage(2, 2, BufferedImage.TYPE_INT_ARGB);
        a.setRGB(0, 0, 0x80102030);
        ImageIO.write(a, "png", dir.resolve("a.png").toFile());
        Tensor ta = Images.read(dir.resolve("a.png"));
        assertEquals(0x10 / 255f, ta.data()[0]);
        assertEquals(0x30 / 255f, ta.data()[8]);
        BufferedImage rgb = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        ImageIO.write(rgb, "jpg", dir.resolve("j.jpg").toFile());
        assertArrayEquals(new int[]{1, 3, 8, 8}, Images.read(dir.resolve("j.jpg")).shape());
    }

    @Test
    void unreadableFilesGiveClearErrors(@TempDir Path dir) throws IOException {
        Path txt = Files.writeString(dir.resolve("notes.png"), "not an image");
        IOException e = assertThrows(IOException.class, () -> Images.read(txt));
        assertTrue(e.getMessage().contains("notes.png") && e.getMessage().contains("not an image"), e.getMessage());
        e = assertThrows(IOException.class, () -> Images.read(dir.resolve("absent.png")));
        assertTrue(e.getMessage().contains("absent.png"), e.getMessage());
        e = assertThrows(IOException.class, () -> Images.read(dir));
        assertTrue(e.getMessage().contains("folder"), e.getMessage());
    }

    private static Map<String, Object> linked(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}

package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsWriter;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeCommandTest {
    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static Path photo(Path dir, int w, int h) throws Exception {
        Tensor t = Tensor.zeros(1, 3, h, w);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (0.5 + 0.45 * Math.sin(i * 0.013));
        Path p = dir.resolve("in_" + w + "x" + h + ".png");
        Images.writePng(p, t, Map.of());
        return p;
    }

    @Test
    void encodesAndDecodesWithEveryKindOfVae(@TempDir Path dir) throws Exception {
        Path img = photo(dir, 64, 48);
        String[] vaes = {Golden.resolve("models/tiny-sd1").toString(), Golden.resolve("models/tiny-sd1/vae").toString(),
                Golden.resolve("models/tiny-sd1.safetensors").toString(), Golden.resolve("models/taesd").toString(),
                Golden.resolve("models/taesd/taesd_encoder.safetensors") + "," + Golden.resolve("models/taesd/taesd_decoder.safetensors")};
        for (int i = 0; i < vaes.length; i++) {
            Path lat = dir.resolve("lat" + i + ".safetensors"), out = dir.resolve("out" + i + ".png");
            Result r = run("vae", "encode", "--vae", vaes[i], "--image", img.toString(), "-o", lat.toString());
            if (i == 2) {
                // the single file has no config: SD's 32 groups do not fit the tiny model, and it says so
                assertEquals(1, r.code, r.out);
                assertTrue(r.err.contains("groups"), r.err);
                continue;
            }
            assertEquals(0, r.code, r.err);
            // latents get a plain file's mode under the umask
            Path plain = dir.resolve("plain" + i);
            assertEquals(Files.getPosixFilePermissions(Files.createFile(plain)), Files.getPosixFilePermissions(lat));
            try (SafetensorsFile f = SafetensorsFile.open(lat)) {
                assertArrayEquals(new long[]{1, 4, 6, 8}, f.get("latent").shape());
            }
            r = run("vae", "decode", "--vae", vaes[i], "--latent", lat.toString(), "-o", out.toString());
            assertEquals(0, r.code, r.err);
            assertArrayEquals(new int[]{1, 3, 48, 64}, Images.read(out).shape());
        }
    }

    @Test
    void badInputGivesOneClearLineAndWritesNothing(@TempDir Path dir) throws Exception {
        String vae = Golden.resolve("models/tiny-sd1").toString();
        Path out = dir.resolve("out.safetensors");
        // image sides not multiples of 8
        Result r = run("vae", "encode", "--vae", vae, "--image", photo(dir, 60, 48).toString(), "-o", out.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("multiples of 8"), r.err);
        assertOneLine(r);
        // unreadable image
        Path bad = Files.writeString(dir.resolve("bad.png"), "nope");
        r = run("vae", "encode", "--vae", vae, "--image", bad.toString(), "-o", out.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("bad.png"), r.err);
        assertOneLine(r);
        assertFalse(Files.exists(out));
        // wrong latent channel count
        Path lat = dir.resolve("lat16.safetensors");
        SafetensorsWriter.write(lat, Map.of("latent", Tensor.zeros(1, 16, 4, 4)), DType.F32, null);
        Path png = dir.resolve("o.png");
        r = run("vae", "decode", "--vae", vae, "--latent", lat.toString(), "-o", png.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("16 channels"), r.err);
        assertOneLine(r);
        // unwritable output
        SafetensorsWriter.write(lat, Map.of("latent", Tensor.zeros(1, 4, 4, 4)), DType.F32, null);
        r = run("vae", "decode", "--vae", vae, "--latent", lat.toString(), "-o", dir.resolve("no/such/o.png").toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("does not exist"), r.err);
        assertOneLine(r);
        // not a VAE
        r = run("vae", "decode", "--vae", lat.toString(), "--latent", lat.toString(), "-o", png.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("not a VAE"), r.err);
        assertOneLine(r);
        // usage errors
        assertEquals(2, run("vae", "decode", "--vae", vae).code);
        assertEquals(2, run("vae", "explode").code);
        assertEquals(0, run("vae", "--help").code);
        assertFalse(Files.exists(png));
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "temporary files left");
        }
    }

    static void assertOneLine(Result r) {
        assertEquals(1, r.err.strip().lines().count(), r.err);
    }
}

package dev.jdiffusion.model.taesd;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TaesdTest {
    /** Real trained TAEF2 weights beside the golden set (../shared/weights/taef2). */
    static Path taef2() { return Golden.dir().getParent().resolve("weights").resolve("taef2"); }

    /** Measured 31.80 dB (8-bit images) on the committed astronaut crop; threshold = measured - 1 dB. */
    static final double MIN_PSNR_DB = 30.8;

    @Test
    void taef2RoundTripReconstructsARealPhoto() throws Exception {
        assumeTrue(Files.isDirectory(taef2()), "TAEF2 weights not found at " + taef2());
        Tensor photo = Images.read(Path.of("src/test/resources/images/astronaut_256.png"));
        try (Taesd t = Taesd.open(taef2())) {
            assertEquals(32, t.latentChannels());
            assertEquals(8, t.spatialFactor());
            assertTrue(t.describe().contains("pool GroupNorm branch"), t.describe());
            Tensor lat = t.encode(photo);
            assertArrayEquals(new int[]{1, 32, 32, 32}, lat.shape());
            Tensor back = t.decodeLatents(lat);
            double psnr = psnr(photo.data(), back.data());
            System.out.printf("TAEF2 round trip of astronaut_256.png: PSNR %.2f dB%n", psnr);
            assertTrue(psnr > MIN_PSNR_DB, "PSNR " + psnr + " dB");
        }
    }

    static double psnr(float[] a, float[] b) {
        double se = 0;
        for (int i = 0; i < a.length; i++) {
            // compare the 8-bit images, as a viewer sees them
            double d = (Images.toByte(a[i]) - Images.toByte(b[i])) / 255.0;
            se += d * d;
        }
        return 10 * Math.log10(1.0 / (se / a.length));
    }

    @Test
    void diffusersAutoencoderTinyNamingGivesTheSameResults() {
        Path dir = Golden.resolve("models/taesd");
        try (SafetensorsFile enc = SafetensorsFile.open(dir.resolve("taesd_encoder.safetensors"));
             SafetensorsFile dec = SafetensorsFile.open(dir.resolve("taesd_decoder.safetensors"))) {
            Taesd ref = Taesd.load(enc, dec);
            // AutoencoderTiny: encoder.layers.N = taesd N; decoder.layers.N = taesd N+1 (the Clamp is outside its layers).
            TensorSource both = new dev.jdiffusion.weights.MultiSource("tiny", java.util.List.of(
                    enc.mapped("enc", n -> "encoder.layers." + n, v -> v),
                    dec.mapped("dec", n -> {
                        int dot = n.indexOf('.');
                        return "decoder.layers." + (Integer.parseInt(n.substring(0, dot)) - 1) + n.substring(dot);
                    }, v -> v)));
            Taesd tiny = Taesd.loadDiffusers(both);
            Tensor img = Tensor.zeros(1, 3, 32, 48);
            for (int i = 0; i < img.numel(); i++) img.data()[i] = (float) (0.5 + 0.4 * Math.sin(i * 0.37));
            Tensor l1 = ref.encode(img), l2 = tiny.encode(img);
            assertArrayEquals(l1.data(), l2.data());
            assertArrayEquals(ref.decode(l1).data(), tiny.decode(l1).data());
        }
    }

    /** taesd.py's F32Encoder/F32Decoder (TAESANA): stride-2 stem convs with bias followed by ReLU, 32x scale. */
    @Test
    void buildsTheF32VariantFromItsWeights() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
            java.util.Map<String, dev.jdiffusion.weights.TensorView> enc = new java.util.LinkedHashMap<>(), dec = new java.util.LinkedHashMap<>();
            // encoder: conv(3,32,s2) relu conv(32,64,s2) relu Block, [conv(64,64,s2,nobias) Block x3] x3, conv(64,32)
            conv(enc, arena, "0", 32, 3, true); conv(enc, arena, "2", 64, 32, true); block(enc, arena, "4", 64);
            int i = 5;
            for (int r = 0; r < 3; r++) {
                conv(enc, arena, "" + i++, 64, 64, false);
                for (int b = 0; b < 3; b++) block(enc, arena, "" + i++, 64);
            }
            conv(enc, arena, "" + i, 32, 64, true);
            // decoder: clamp conv(32,64) relu, [Block x3, upsample, conv nobias] x5, Block, conv(64,3)
            conv(dec, arena, "1", 64, 32, true);
            i = 3;
            for (int r = 0; r < 5; r++) {
                for (int b = 0; b < 3; b++) block(dec, arena, "" + i++, 64);
                i++; // upsample
                conv(dec, arena, "" + i++, 64, 64, false);
            }
            block(dec, arena, "" + i++, 64);
            conv(dec, arena, "" + i, 3, 64, true);
            Taesd t = Taesd.load(source(enc), source(dec));
            assertEquals(32, t.spatialFactor());
            assertEquals(32, t.latentChannels());
            assertArrayEquals(new int[]{1, 32, 2, 3}, t.encode(Tensor.zeros(1, 3, 64, 96)).shape());
            assertArrayEquals(new int[]{1, 3, 64, 96}, t.decode(Tensor.zeros(1, 32, 2, 3)).shape());
        }
    }

    static void conv(java.util.Map<String, dev.jdiffusion.weights.TensorView> m, java.lang.foreign.Arena a, String p, int out, int in, boolean bias) {
        m.put(p + ".weight", view(a, p + ".weight", out, in, 3, 3));
        if (bias) m.put(p + ".bias", view(a, p + ".bias", out));
    }

    static void block(java.util.Map<String, dev.jdiffusion.weights.TensorView> m, java.lang.foreign.Arena a, String p, int c) {
        for (int k : new int[]{0, 2, 4}) conv(m, a, p + ".conv." + k, c, c, true);
    }

    static dev.jdiffusion.weights.TensorView view(java.lang.foreign.Arena a, String name, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        java.lang.foreign.MemorySegment seg = a.allocate(4 * n);
        for (long i = 0; i < n; i++) seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) Math.sin(i) * 0.01f);
        return new dev.jdiffusion.weights.TensorView(name, "memory", dev.jdiffusion.weights.DType.F32, shape, seg);
    }

    static TensorSource source(java.util.Map<String, dev.jdiffusion.weights.TensorView> m) {
        return new TensorSource() {
            @Override public java.util.Set<String> names() { return m.keySet(); }
            @Override public dev.jdiffusion.weights.TensorView find(String name) { return m.get(name); }
            @Override public String description() { return "memory"; }
        };
    }

    @Test
    void halvesAreToldApartByTheirLayersNotTheirNames() throws Exception {
        Path dir = Golden.resolve("models/taesd");
        Path tmp = Files.createTempDirectory("taesd");
        try {
            // swapped, meaningless names
            Files.copy(dir.resolve("taesd_encoder.safetensors"), tmp.resolve("b.safetensors"));
            Files.copy(dir.resolve("taesd_decoder.safetensors"), tmp.resolve("a.safetensors"));
            try (Taesd t = Taesd.open(tmp.resolve("a.safetensors"), tmp.resolve("b.safetensors"))) {
                assertTrue(t.canEncode() && t.canDecode());
                assertEquals(4, t.latentChannels());
            }
            try (Taesd t = Taesd.open(tmp.resolve("a.safetensors"))) {
                assertFalse(t.canEncode());
                assertThrows(IllegalStateException.class, () -> t.encode(Tensor.zeros(1, 3, 8, 8)));
                assertThrows(IllegalArgumentException.class, () -> t.decode(Tensor.zeros(1, 3, 2, 2)));
            }
            assertThrows(ModelFormatException.class, () -> Taesd.open(tmp.resolve("a.safetensors"), tmp.resolve("a.safetensors")));
        } finally {
            try (var s = Files.list(tmp)) {
                for (Path p : s.toList()) Files.delete(p);
            }
            Files.delete(tmp);
        }
    }
}

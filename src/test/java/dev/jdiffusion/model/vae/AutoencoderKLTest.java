package dev.jdiffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsWriter;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AutoencoderKLTest {
    static final Path VAE = Golden.resolve("models/tiny-sd1/vae");

    static JsonNode config() { return Golden.json(VAE.resolve("config.json")); }

    /** An in-memory source whose tensors are the given ones converted to dtype (F32, F16 or BF16). */
    static TensorSource converted(TensorSource s, DType dtype, Arena arena) {
        Map<String, TensorView> m = new LinkedHashMap<>();
        ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (String n : s.names()) {
            float[] v = s.get(n).toFloatArray();
            MemorySegment seg = arena.allocate((long) v.length * dtype.bytes());
            for (int i = 0; i < v.length; i++) {
                if (dtype == DType.F16) seg.set(i16, 2L * i, Float.floatToFloat16(v[i]));
                else if (dtype == DType.BF16) seg.set(i16, 2L * i, (short) (bf16(v[i]) >>> 16));
                else seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, v[i]);
            }
            m.put(n, new TensorView(n, "memory:" + dtype, dtype, s.get(n).shape(), seg));
        }
        return new TensorSource() {
            @Override public Set<String> names() { return m.keySet(); }
            @Override public TensorView find(String name) { return m.get(name); }
            @Override public String description() { return "memory:" + dtype; }
        };
    }

    /** Round-to-nearest-even float -> bfloat16 bits (in the high half). */
    static int bf16(float f) {
        int b = Float.floatToRawIntBits(f);
        return (b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000;
    }

    @Test
    void halfPrecisionWeightsComputeInFloat32() {
        try (TensorSource s = Checkpoint.openWeights(VAE); Arena arena = Arena.ofShared()) {
            Tensor z = VaeTestData.latent(1, 4, 6, 5, 9);
            Tensor img = VaeTestData.latent(1, 3, 24, 16, 10);
            for (DType dt : new DType[]{DType.F16, DType.BF16}) {
                AutoencoderKL half = AutoencoderKL.load(converted(s, dt, arena), config());
                // the same values held as F32: results must be identical, the dtype only changes storage
                TensorSource asF32 = converted(converted(s, dt, arena), DType.F32, arena);
                AutoencoderKL ref = AutoencoderKL.load(asF32, config());
                assertArrayEquals(ref.decode(z).data(), half.decode(z).data(), dt + " decode");
                assertArrayEquals(ref.encode(img).moments().data(), half.encode(img).moments().data(), dt + " encode");
            }
        }
    }

    @Test
    void readsTheArchitectureFromTheWeights() {
        try (TensorSource s = Checkpoint.openWeights(VAE)) {
            JsonNode c = config();
            AutoencoderKL v = AutoencoderKL.load(s, c);
            // the facts the config states, read back from the loaded model (the decoder's shapes give the same)
            int[] boc = new int[c.get("block_out_channels").size()];
            for (int i = 0; i < boc.length; i++) boc[i] = c.get("block_out_channels").get(i).asInt();
            assertEquals(c.get("latent_channels").asInt(), v.latentChannels());
            assertEquals(1 << (boc.length - 1), v.spatialFactor());
            assertEquals((float) c.get("scaling_factor").asDouble(), v.scalingFactor());
            assertEquals(s.names().stream().anyMatch(n -> n.startsWith("encoder.")), v.canEncode());
            assertTrue(v.decodeFlops(64, 64) > 0);
            // SD 1.5's decoder at 512x512: about 1.26 T multiply-adds = 2.5 TFLOP
            long sd = AutoencoderKL.decoderFlops(new int[]{128, 256, 512, 512}, 2, 4, 512, 512);
            assertTrue(sd > 2.4e12 && sd < 2.6e12, "SD decoder flops " + sd);
            // the static formula agrees with the loaded model's count for this architecture
            int f = v.spatialFactor();
            assertEquals(v.decodeFlops(8 * f, 6 * f), AutoencoderKL.decoderFlops(boc, c.get("layers_per_block").asInt(), v.latentChannels(), 8 * f, 6 * f));
        }
    }

    @Test
    void badWeightsOrConfigFailClearlyBeforeCompute() {
        try (TensorSource s = Checkpoint.openWeights(VAE)) {
            // a group count that divides no channel count fails at load, naming the groups
            var groups = (com.fasterxml.jackson.databind.node.ObjectNode) config().deepCopy();
            int g = 7;
            for (var ch : config().get("block_out_channels")) while (ch.asInt() % g == 0) g += 2;
            groups.put("norm_num_groups", g);
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> AutoencoderKL.load(s, groups));
            assertTrue(e.getMessage().contains("groups"), e.getMessage());
            String gone = s.names().stream().filter(n -> n.startsWith("decoder.up_blocks.") && n.endsWith(".conv2.weight")).sorted().findFirst().orElseThrow();
            TensorSource missing = s.mapped("partial", n -> n.equals(gone) ? null : n, t -> t);
            e = assertThrows(ModelFormatException.class, () -> AutoencoderKL.load(missing, config()));
            assertTrue(e.getMessage().contains(gone), e.getMessage());
            var bad = (com.fasterxml.jackson.databind.node.ObjectNode) config().deepCopy();
            bad.put("latent_channels", config().get("latent_channels").asInt() + 12);
            e = assertThrows(ModelFormatException.class, () -> AutoencoderKL.load(s, bad));
            assertTrue(e.getMessage().contains("latent_channels"), e.getMessage());
            AutoencoderKL v = AutoencoderKL.load(s, config());
            assertThrows(IllegalArgumentException.class, () -> v.decode(Tensor.zeros(1, 3, 4, 4)));
            assertThrows(IllegalArgumentException.class, () -> v.encode(Tensor.zeros(1, 4, 16, 16)));
            assertThrows(IllegalArgumentException.class, () -> v.encode(Tensor.zeros(3, 16, 16)));
        }
    }

    /** A standalone VAE file in the original naming (as vae-ft-mse-840000 is shipped), with a config beside it. */
    @Test
    void opensStandaloneFilesInEitherNaming(@TempDir Path tmp) throws Exception {
        Tensor z = VaeTestData.latent(1, 4, 5, 6, 4);
        float[] want;
        try (TensorSource s = Checkpoint.openWeights(VAE)) {
            want = AutoencoderKL.load(s, config()).decodeLatents(z).data();
        }
        Files.copy(VAE.resolve("config.json"), tmp.resolve("config.json"));
        try (SafetensorsFile single = SafetensorsFile.open(Golden.resolve("models/tiny-sd1.safetensors"))) {
            Map<String, Tensor> orig = new LinkedHashMap<>(), diff = new LinkedHashMap<>();
            for (String n : single.names())
                if (n.startsWith("first_stage_model.")) orig.put(n.substring("first_stage_model.".length()), Tensor.of(single.get(n)));
            SafetensorsWriter.write(tmp.resolve("original.safetensors"), orig, DType.F32, Map.of());
            try (TensorSource s = Checkpoint.openWeights(VAE)) {
                for (String n : s.names()) diff.put(n, Tensor.of(s.get(n)));
            }
            SafetensorsWriter.write(tmp.resolve("diffusers.safetensors"), diff, DType.F32, Map.of());
        }
        for (String f : new String[]{"original.safetensors", "diffusers.safetensors"}) {
            try (ImageAutoencoder a = Autoencoders.open(tmp.resolve(f))) {
                assertInstanceOf(AutoencoderKL.class, a);
                assertArrayEquals(want, a.decodeLatents(z).data(), f);
            }
        }
        try (ImageAutoencoder a = Autoencoders.open(Golden.resolve("models/tiny-sd1"))) {
            assertArrayEquals(want, a.decodeLatents(z).data(), "model folder");
        }
        assertThrows(ModelFormatException.class, () -> Autoencoders.open(tmp.resolve("nope.safetensors")));
    }

    @Test
    void latentDistSamplesAsDiffusers() {
        try (TensorSource s = Checkpoint.openWeights(VAE)) {
            LatentDist d = AutoencoderKL.load(s, config()).encode(VaeTestData.latent(1, 3, 16, 24, 3));
            assertArrayEquals(new int[]{1, 4, 2, 3}, d.mean().shape());
            float[] zero = new float[d.mean().numel()];
            assertArrayEquals(d.mean().data(), d.sample(zero).data());
            assertThrows(IllegalArgumentException.class, () -> d.sample(new float[3]));
            for (int i = 0; i < zero.length; i++) assertEquals((float) Math.exp(0.5f * d.logvar().data()[i]), d.std().data()[i]);
        }
    }
}

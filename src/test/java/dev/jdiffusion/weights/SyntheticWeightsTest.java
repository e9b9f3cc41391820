package dev.jdiffusion.weights;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticWeightsTest {
    @TempDir Path dir;

    private static final String NESTED = """
            {"unet/diffusion_pytorch_model.safetensors": {
               "conv_in.weight": {"shape": [8, 4, 3, 3], "dtype": "F16"},
               "conv_in.bias": {"shape": [8], "dtype": "F16"},
               "norm.weight": {"shape": [8], "dtype": "F16"},
               "proj.weight": {"shape": [300, 200], "dtype": "F16"},
               "empty.weight": {"shape": [0, 5], "dtype": "F16"}},
             "text_encoder/model.safetensors": {
               "text_model.embeddings.position_ids": {"shape": [1, 77], "dtype": "I64"},
               "text_model.embeddings.token_embedding.weight": {"shape": [100, 16], "dtype": "F16"}},
             "vae/diffusion_pytorch_model.safetensors": {
               "decoder.conv_out.weight": {"shape": [3, 8, 3, 3], "dtype": "F16"}}}
            """;

    private Path manifest(String name, String json) throws IOException {
        return Files.writeString(dir.resolve(name), json);
    }

    @Test void folderMatchesManifest() throws IOException {
        Map<String, List<SyntheticWeights.TensorSpec>> files = SyntheticWeights.readManifest(manifest("m.json", NESTED));
        Path out = dir.resolve("model");
        Path tok = Golden.dir().resolve("models/tiny-sd1/tokenizer");
        SyntheticWeights.writeFolder(files, Sd15Configs.FILES, out, tok, DType.F16, 7, new PrintStream(new ByteArrayOutputStream()));
        for (var f : files.entrySet())
            try (SafetensorsFile sf = SafetensorsFile.open(out.resolve(f.getKey()))) {
                assertEquals(f.getValue().stream().map(SyntheticWeights.TensorSpec::name).toList(), List.copyOf(sf.names()));
                for (var t : f.getValue()) {
                    assertArrayEquals(t.shape(), sf.get(t.name()).shape(), t.name());
                    assertEquals(t.dtype(), sf.get(t.name()).dtype(), t.name());
                }
            }
        try (Checkpoint c = Checkpoint.open(out)) {
            for (String comp : new String[]{Checkpoint.UNET, Checkpoint.VAE, Checkpoint.TEXT_ENCODER, Checkpoint.SCHEDULER, Checkpoint.TOKENIZER})
                assertTrue(c.has(comp), comp);
            assertEquals(768, c.config(Checkpoint.UNET).get("cross_attention_dim").asInt());
            assertEquals(dev.jdiffusion.pipeline.ModelFamily.SD1, dev.jdiffusion.pipeline.ModelFamily.of(c).family());
            assertTrue(dev.jdiffusion.pipeline.ModelFamily.of(c).evidence().contains("768"), dev.jdiffusion.pipeline.ModelFamily.of(c).evidence());
            TensorSource u = c.tensors(Checkpoint.UNET);
            for (float v : u.get("conv_in.bias").toFloatArray()) assertEquals(0f, v);
            for (float v : u.get("norm.weight").toFloatArray()) assertEquals(1f, v);
            float[] w = u.get("proj.weight").toFloatArray();
            double s2 = 0, max = 0;
            for (float v : w) {
                s2 += v * v;
                max = Math.max(max, Math.abs(v));
            }
            double std = Math.sqrt(s2 / w.length), expected = 1 / Math.sqrt(200);
            assertEquals(expected, std, expected * 0.05, "std 1/sqrt(fan_in)");
            assertTrue(max <= Math.sqrt(3) * expected * 1.001, "bounded");
            long[] ids = c.tensors(Checkpoint.TEXT_ENCODER).get("text_model.embeddings.position_ids").toLongArray();
            for (int i = 0; i < ids.length; i++) assertEquals(i, ids[i]);
        }
        assertTrue(Files.isRegularFile(out.resolve("tokenizer/vocab.json")));
    }

    @Test void deterministicBySeed() throws IOException {
        var specs = SyntheticWeights.readManifest(manifest("m.json", NESTED)).get("unet/diffusion_pytorch_model.safetensors");
        SyntheticWeights.writeFile(dir.resolve("a.safetensors"), specs, DType.F32, 1);
        SyntheticWeights.writeFile(dir.resolve("b.safetensors"), specs, DType.F32, 1);
        SyntheticWeights.writeFile(dir.resolve("c.safetensors"), specs, DType.F32, 2);
        assertArrayEquals(Files.readAllBytes(dir.resolve("a.safetensors")), Files.readAllBytes(dir.resolve("b.safetensors")));
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(dir.resolve("a.safetensors")), Files.readAllBytes(dir.resolve("c.safetensors"))));
        try (SafetensorsFile sf = SafetensorsFile.open(dir.resolve("a.safetensors"))) {
            assertEquals(DType.F32, sf.get("proj.weight").dtype());
        }
    }

    @Test void flatManifestMakesASingleFile() throws IOException {
        Path m = manifest("ldm.json", """
                {"model.diffusion_model.input_blocks.0.0.weight": {"shape": [8, 4, 3, 3], "dtype": "F16"},
                 "cond_stage_model.transformer.text_model.embeddings.position_ids": {"shape": [1, 5], "dtype": "I64"}}
                """);
        Path out = dir.resolve("x.safetensors");
        SyntheticWeights.generateSingleFile(m, out, DType.BF16, 0);
        try (SafetensorsFile sf = SafetensorsFile.open(out)) {
            assertEquals(DType.BF16, sf.get("model.diffusion_model.input_blocks.0.0.weight").dtype());
            assertArrayEquals(new long[]{0, 1, 2, 3, 4}, sf.get("cond_stage_model.transformer.text_model.embeddings.position_ids").toLongArray());
        }
        assertThrows(ModelFormatException.class, () -> SyntheticWeights.generateSingleFile(manifest("n.json", NESTED), dir.resolve("y.safetensors"), DType.F16, 0));
    }

    @Test void badManifests() throws IOException {
        assertThrows(ModelFormatException.class, () -> SyntheticWeights.readManifest(manifest("a.json", "{}")));
        assertThrows(ModelFormatException.class, () -> SyntheticWeights.readManifest(manifest("b.json", "{\"../x.safetensors\": {}}")));
        assertThrows(ModelFormatException.class, () -> SyntheticWeights.readManifest(manifest("c.json", "{\"w\": {\"shape\": [-1], \"dtype\": \"F16\"}}")));
        assertThrows(ModelFormatException.class, () -> SyntheticWeights.readManifest(manifest("d.json", "{\"w\": {\"shape\": [1], \"dtype\": \"Q4\"}}")));
    }

    /** The real SD 1.5 manifest agrees with the configs the generator writes (shapes of key tensors). */
    @Test void sd15ConfigsMatchTheManifest() {
        Path m = Golden.dir().resolveSibling("manifests").resolve("sd15-diffusers.json");
        if (!Files.isRegularFile(m)) return;
        var files = SyntheticWeights.readManifest(m);
        SyntheticWeights.verifySd15Configs(files, m.toString());
        assertEquals(3, files.size());
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> SyntheticWeights.verifySd15Configs(Map.of("unet/diffusion_pytorch_model.safetensors",
                        List.of(new SyntheticWeights.TensorSpec("conv_in.weight", DType.F16, new long[]{320, 4, 3, 3}))), m.toString()));
        assertTrue(e.getMessage().contains("missing tensor"), e.getMessage());
        Path ldm = m.resolveSibling("sd15-ldm.json");
        if (Files.isRegularFile(ldm)) assertEquals(1, SyntheticWeights.readManifest(ldm).size());
    }

    @Test void commandLineErrors() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(2, SyntheticWeights.run(new String[]{"--bogus"}, new PrintStream(new ByteArrayOutputStream()), new PrintStream(err)));
        assertTrue(err.toString().contains("unknown option --bogus"));
        assertEquals(1, SyntheticWeights.run(new String[]{"--manifests", dir.resolve("none").toString(), "--dir", dir.resolve("o").toString()},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(err)));
    }

    /** The manifests bundled in the jar: every kind's agrees with its configs, and with the shared copy where present. */
    @Test void bundledManifestsNeedNothingOutsideTheJar() {
        for (SyntheticWeights.Kind k : SyntheticWeights.KINDS.values()) {
            assertTrue(k.configs().containsKey("model_index.json"), k.name());
            if (k.diffusersManifest() == null) continue; // tensors from the configs: SyntheticModelsTest
            var files = SyntheticWeights.bundledManifest(k.diffusersManifest());
            if (k.verify() != null) k.verify().accept(files, k.diffusersManifest());
            assertTrue(k.configs().containsKey("model_index.json"), k.name());
            for (String f : files.keySet()) assertTrue(k.configs().containsKey(f.substring(0, f.indexOf('/')) + "/config.json"), k.name() + ": no config for " + f);
            if (k.singleFileManifest() != null) assertEquals(1, SyntheticWeights.bundledManifest(k.singleFileManifest()).size());
        }
        Path shared = Golden.dir().resolveSibling("manifests");
        for (String n : new String[]{"sd15-diffusers", "sd15-ldm"}) {
            Path m = shared.resolve(n + ".json");
            if (!Files.isRegularFile(m)) continue;
            var want = SyntheticWeights.readManifest(m);
            var got = SyntheticWeights.bundledManifest(n + ".json.gz");
            assertEquals(want.keySet(), got.keySet());
            for (var e : want.entrySet()) {
                var g = got.get(e.getKey());
                assertEquals(e.getValue().size(), g.size(), n);
                for (int i = 0; i < g.size(); i++) {
                    assertEquals(e.getValue().get(i).name(), g.get(i).name());
                    assertTrue(java.util.Arrays.equals(e.getValue().get(i).shape(), g.get(i).shape()), e.getValue().get(i).name());
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> SyntheticWeights.kind("sd99"));
    }
}

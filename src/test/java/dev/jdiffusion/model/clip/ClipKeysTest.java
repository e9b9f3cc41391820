package dev.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ClipKeys;
import dev.jdiffusion.weights.OpenClipKeys;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/** The single-file text encoder mapping against the golden key_map.json, and tensor identity with the folder. */
class ClipKeysTest {

    /** Every single-file case whose key map has text_encoder entries; fails when there is none (nothing would be checked). */
    private static java.util.List<Path> singleFileCases() {
        java.util.List<Path> cases = Golden.caseDirs().stream().filter(d -> Files.isRegularFile(d.resolve("key_map.json"))
                && Golden.json(d.resolve("info.json")).path("kind").asText().equals("single_file"))
                .filter(d -> {
                    for (JsonNode v : Golden.json(d.resolve("key_map.json")))
                        if (v.path("component").asText().equals(Checkpoint.TEXT_ENCODER)) return true;
                    return false; // a file without a text encoder (e.g. a ControlNet)
                }).toList();
        assertFalse(cases.isEmpty(), "no single-file golden case with text_encoder entries in its key_map.json");
        return cases;
    }

    @Test
    void mappingReproducesEveryTextEncoderEntryOfKeyMap() {
        for (Path dir : singleFileCases()) checkKeyMap(dir);
    }

    private static void checkKeyMap(Path dir) {
        JsonNode map = Golden.json(dir.resolve("key_map.json"));
        java.util.List<String> prefixes = Checkpoint.singlePrefixes(Checkpoint.TEXT_ENCODER);
        String prefix2 = Checkpoint.singlePrefix(Checkpoint.TEXT_ENCODER_2);
        int checked = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey(), comp = e.getValue().get("component").asText();
            String prefix = prefixes.stream().filter(key::startsWith).findFirst().orElse(null);
            if (comp.equals(Checkpoint.TEXT_ENCODER)) {
                assertNotNull(prefix, key);
                assertEquals(e.getValue().get("diffusers_key").asText(), ClipKeys.toDiffusers(key.substring(prefix.length())), key);
                assertFalse(e.getValue().path("reshape").asBoolean(false), key);
                checked++;
            } else if (comp.equals(Checkpoint.TEXT_ENCODER_2)) {
                // OpenCLIP names: one diffusers key, or three for a fused in_proj (split_qkv)
                assertTrue(key.startsWith(prefix2), key);
                java.util.List<String> want = new java.util.ArrayList<>();
                if (e.getValue().has("diffusers_keys")) e.getValue().get("diffusers_keys").forEach(k -> want.add(k.asText()));
                else want.add(e.getValue().get("diffusers_key").asText());
                assertEquals(want, java.util.List.of(OpenClipKeys.toDiffusers(key.substring(prefix2.length()))), key);
                assertEquals(want.size() == 3 ? "split_qkv" : key.endsWith("text_projection") ? "transpose" : "none",
                        e.getValue().path("transform").asText(), key);
                checked++;
            } else {
                assertNull(prefix, "a non-text-encoder key under a text encoder prefix: " + key);
            }
        }
        assertTrue(checked > 0, dir.getFileName() + ": key_map.json lists no text_encoder keys");
    }

    /** The q/k/v of a fused in_proj are row slices of the mapped file (no copy), in the key map's order. */
    @Test
    void fusedQkvAreSlicesOfTheMappedTensor() {
        int checked = 0;
        for (Path dir : singleFileCases()) {
            JsonNode info = Golden.json(dir.resolve("info.json"));
            try (Checkpoint single = Checkpoint.open(Golden.resolve(info.get("file").asText()))) {
                for (Iterator<Map.Entry<String, JsonNode>> it = Golden.json(dir.resolve("key_map.json")).fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (!e.getValue().path("transform").asText().equals("split_qkv")) continue;
                    TensorView fused = single.singleFile().get(e.getKey());
                    TensorSource mapped = single.tensors(e.getValue().get("component").asText());
                    JsonNode keys = e.getValue().get("diffusers_keys");
                    for (int j = 0; j < keys.size(); j++) {
                        TensorView part = mapped.get(keys.get(j).asText());
                        assertTrue(part.segment().isNative(), part + " is not in the mapped file");
                        assertEquals(fused.segment().address() + j * fused.segment().byteSize() / keys.size(), part.segment().address(), part.toString());
                        assertEquals(fused.dim(0) / keys.size(), part.dim(0), part.toString());
                        checked++;
                    }
                }
            }
        }
        assertTrue(checked > 0, "no split_qkv entry in any single-file key map");
    }

    @Test
    void openClipKeys() {
        assertArrayEquals(new String[]{"text_model.encoder.layers.3.mlp.fc2.bias"}, OpenClipKeys.toDiffusers("transformer.resblocks.3.mlp.c_proj.bias"));
        assertEquals(0, OpenClipKeys.toDiffusers("logit_scale").length);
        assertArrayEquals(new String[]{"original:transformer.resblocks.0.attn.foo.weight"}, OpenClipKeys.toDiffusers("transformer.resblocks.0.attn.foo.weight"));
    }

    @Test
    void legacyKeysWithoutTextModelLevel() {
        assertEquals("text_model.embeddings.token_embedding.weight", ClipKeys.toDiffusers("embeddings.token_embedding.weight"));
        assertEquals("text_model.final_layer_norm.bias", ClipKeys.toDiffusers("final_layer_norm.bias"));
        assertNull(ClipKeys.toDiffusers("something.else"));
    }

    @Test
    void singleFileTensorsAreTheFolderTensors() {
        for (Path dir : singleFileCases()) checkTensors(dir);
    }

    private static void checkTensors(Path dir) {
        JsonNode info = Golden.json(dir.resolve("info.json"));
        try (Checkpoint single = Checkpoint.open(Golden.resolve(info.get("file").asText()));
             Checkpoint folder = Checkpoint.open(Golden.resolve(info.get("made_from").asText()))) {
            TensorSource a = single.tensors(Checkpoint.TEXT_ENCODER), b = folder.tensors(Checkpoint.TEXT_ENCODER);
            assertEquals(new TreeSet<>(b.names()), new TreeSet<>(a.names()));
            for (String n : b.names()) {
                TensorView x = a.get(n), y = b.get(n);
                assertArrayEquals(y.shape(), x.shape(), n);
                if (x.dtype() == y.dtype()) assertEquals(-1L, x.segment().mismatch(y.segment()), n + " bytes differ");
                else assertArrayEquals(y.toFloatArray(), x.toFloatArray(), n + ": values differ after conversion to float32"); // a float16 file
            }
            // Both load as encoders and compute the same bits.
            JsonNode config = folder.config(Checkpoint.TEXT_ENCODER);
            ClipTextEncoder ea = ClipTextEncoder.load(a, config), eb = ClipTextEncoder.load(b, config);
            int vocab = config.get("vocab_size").asInt(), eos = config.path("eos_token_id").asInt(vocab - 1);
            int[][] ids = {{Math.min(49406, vocab - 2), 1, 2, 3, eos, eos}};
            assertArrayEquals(eb.encode(ids, 1).data(), ea.encode(ids, 1).data(), dir.getFileName().toString());
            // without a config, a hidden size that is not a multiple of 64 (head dim 64 inferred) is a clear error
            if (config.get("hidden_size").asInt() % 64 != 0) {
                var err = assertThrows(dev.jdiffusion.weights.ModelFormatException.class, () -> ClipTextEncoder.load(a, null));
                assertTrue(err.getMessage().contains("config.json"), err.getMessage());
            }
        }
    }

}

package dev.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ClipKeys;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The single-file text encoder mapping against the golden key_map.json, and tensor identity with the folder. */
class ClipKeysTest {

    private static Path singleFileCase() {
        return Golden.caseDirs().stream().filter(d -> Files.isRegularFile(d.resolve("key_map.json"))
                && Golden.json(d.resolve("info.json")).path("kind").asText().equals("single_file"))
                .filter(d -> {
                    for (JsonNode v : Golden.json(d.resolve("key_map.json")))
                        if (v.path("component").asText().equals(Checkpoint.TEXT_ENCODER)) return true;
                    return false; // a file without a text encoder (e.g. a ControlNet)
                }).findFirst().orElse(null);
    }

    @Test
    void mappingReproducesEveryTextEncoderEntryOfKeyMap() {
        Path dir = singleFileCase();
        assumeTrue(dir != null, "no single-file golden case");
        JsonNode map = Golden.json(dir.resolve("key_map.json"));
        String prefix = Checkpoint.singlePrefix(Checkpoint.TEXT_ENCODER);
        int checked = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            boolean te = e.getValue().get("component").asText().equals(Checkpoint.TEXT_ENCODER);
            if (te) {
                assertTrue(key.startsWith(prefix), key);
                assertEquals(e.getValue().get("diffusers_key").asText(), ClipKeys.toDiffusers(key.substring(prefix.length())), key);
                assertFalse(e.getValue().path("reshape").asBoolean(false), key);
                checked++;
            } else {
                assertFalse(key.startsWith(prefix), "a non-text-encoder key under the text encoder prefix: " + key);
            }
        }
        assertTrue(checked > 0, "key_map.json lists no text_encoder keys");
    }

    @Test
    void legacyKeysWithoutTextModelLevel() {
        assertEquals("text_model.embeddings.token_embedding.weight", ClipKeys.toDiffusers("embeddings.token_embedding.weight"));
        assertEquals("text_model.final_layer_norm.bias", ClipKeys.toDiffusers("final_layer_norm.bias"));
        assertNull(ClipKeys.toDiffusers("something.else"));
    }

    @Test
    void singleFileTensorsAreTheFolderTensors() throws Exception {
        Path dir = singleFileCase();
        assumeTrue(dir != null, "no single-file golden case");
        JsonNode info = Golden.json(dir.resolve("info.json"));
        try (Checkpoint single = Checkpoint.open(Golden.resolve(info.get("file").asText()));
             Checkpoint folder = Checkpoint.open(Golden.resolve(info.get("made_from").asText()))) {
            TensorSource a = single.tensors(Checkpoint.TEXT_ENCODER), b = folder.tensors(Checkpoint.TEXT_ENCODER);
            assertEquals(new TreeSet<>(b.names()), new TreeSet<>(a.names()));
            for (String n : b.names()) {
                TensorView x = a.get(n), y = b.get(n);
                assertArrayEquals(y.shape(), x.shape(), n);
                assertEquals(y.dtype(), x.dtype(), n);
                assertEquals(-1L, x.segment().mismatch(y.segment()), n + " bytes differ");
            }
            // Both load as encoders (the tiny model needs its config: 32 is not a multiple of 64).
            JsonNode config = folder.config(Checkpoint.TEXT_ENCODER);
            ClipTextEncoder ea = ClipTextEncoder.load(a, config), eb = ClipTextEncoder.load(b, config);
            int[][] ids = {{49406, 320, 1125, 539, 320, 2368, 49407, 49407}};
            assertArrayEquals(eb.encode(ids, 1).data(), ea.encode(ids, 1).data(), 1e-6f);
            var err = assertThrows(dev.jdiffusion.weights.ModelFormatException.class, () -> ClipTextEncoder.load(a, null));
            assertTrue(err.getMessage().contains("config.json"), err.getMessage());
        }
    }

}

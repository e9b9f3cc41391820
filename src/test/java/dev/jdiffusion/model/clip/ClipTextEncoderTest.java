package dev.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Loading checks and argument validation of the text encoder (numerics are the golden kind's job). */
class ClipTextEncoderTest {
    static Path modelDir() {
        Path d = Golden.resolve("models/tiny-sd1/text_encoder");
        assumeTrue(Files.isRegularFile(d.resolve("config.json")), "golden text encoder not available");
        return d;
    }

    static JsonNode config() { return Golden.json(modelDir().resolve("config.json")); }

    @Test
    void missingTensorIsNamed() {
        try (TensorSource w = Checkpoint.openWeights(modelDir())) {
            String gone = "text_model.encoder.layers.1.mlp.fc2.bias";
            TensorSource s = w.mapped("test", n -> n.equals(gone) ? null : n, t -> t);
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTextEncoder.load(s, config()));
            assertTrue(e.getMessage().contains(gone), e.getMessage());
        }
    }

    @Test
    void unknownTensorIsNamed() {
        try (TensorSource w = Checkpoint.openWeights(modelDir())) {
            // the weights plus one tensor the encoder does not know (a copy of any of them under a new name)
            String any = w.names().iterator().next();
            java.util.Set<String> names = new java.util.LinkedHashSet<>(w.names());
            names.add("text_model.extra.weight");
            TensorSource s = new TensorSource() {
                @Override public java.util.Set<String> names() { return names; }
                @Override public dev.jdiffusion.weights.TensorView find(String n) {
                    return n.equals("text_model.extra.weight") ? w.find(any).renamed(n) : w.find(n);
                }
                @Override public String description() { return "test"; }
            };
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTextEncoder.load(s, config()));
            assertTrue(e.getMessage().contains("text_model.extra.weight"), e.getMessage());
        }
    }

    @Test
    void configDisagreeingWithShapes() {
        try (TensorSource w = Checkpoint.openWeights(modelDir())) {
            ObjectNode c = config().deepCopy();
            c.put("num_hidden_layers", config().get("num_hidden_layers").asInt() + 3);
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTextEncoder.load(w, c));
            assertTrue(e.getMessage().contains("num_hidden_layers"), e.getMessage());
            ObjectNode h = config().deepCopy();
            h.put("num_attention_heads", config().get("hidden_size").asInt() + 1);   // cannot divide the hidden size
            assertThrows(ModelFormatException.class, () -> ClipTextEncoder.load(w, h));
            ObjectNode a = config().deepCopy();
            a.put("hidden_act", "relu");
            e = assertThrows(ModelFormatException.class, () -> ClipTextEncoder.load(w, a));
            assertTrue(e.getMessage().contains("relu"), e.getMessage());
        }
    }

    @Test
    void badIdsAndClipSkip() {
        try (TensorSource w = Checkpoint.openWeights(modelDir())) {
            ClipTextEncoder enc = ClipTextEncoder.load(w, config());
            int layers = enc.config().numLayers();
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[][]{{49406, 49408}}, 1));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[][]{{49406, -1}}, 1));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[][]{{1, 2}, {1}}, 1));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[][]{new int[enc.config().maxPositions() + 1]}, 1));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[][]{{1, 2}}, 0));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[][]{{1, 2}}, layers + 1));
            assertThrows(IllegalArgumentException.class, () -> enc.encode(new int[0][], 1));
            // Shorter sequences are fine, and causal attention makes their prefix equal to the longer run's.
            int[][] longIds = {{49406, 320, 1125, 49407, 49407, 49407}}, shortIds = {{49406, 320, 1125}};
            float[] a = enc.encode(longIds, 1).data(), b = enc.encode(shortIds, 1).data();
            for (int i = 0; i < b.length; i++) assertEquals(a[i], b[i], 1e-6f, "position " + i / enc.config().hiddenSize());
            assertArrayEquals(new int[]{1, 3, enc.config().hiddenSize()}, enc.encode(shortIds, layers).shape());
        }
    }

    @Test
    void inferredConfigNeedsHeadDim64() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> ClipTextConfig.inferred(49408, 32, 64, 3, 77, "x"));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        ClipTextConfig sd1 = ClipTextConfig.inferred(49408, 768, 3072, 12, 77, "x");
        assertEquals(12, sd1.numHeads());
        assertEquals(ClipTextConfig.Activation.QUICK_GELU, sd1.activation());
        assertEquals(16, ClipTextConfig.inferred(49408, 1024, 4096, 23, 77, "x").numHeads());
    }
}

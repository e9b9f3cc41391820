package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;
import dev.jdiffusion.weights.UnetKeys;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The original-layout unet keys of every golden single-file case map exactly to the diffusers keys its key_map.json lists. */
class UnetKeysTest {

    @Test
    void reproducesEveryUnetEntryOfTheKeyMaps() {
        int checked = 0;
        for (Path dir : Golden.caseDirs()) {
            Path km = dir.resolve("key_map.json");
            if (!Files.isRegularFile(km)) continue;
            JsonNode info = Golden.json(dir.resolve("info.json"));
            if (!info.path("kind").asText().equals("single_file")) continue; // LoRA cases have key maps of their own
            Path file = Golden.resolve(info.get("file").asText());
            String prefix = Checkpoint.singlePrefix(Checkpoint.UNET);
            List<String> wrong = new ArrayList<>();
            try (SafetensorsFile f = Golden.open(file)) {
                int layers = UnetKeys.layersPerBlock(f.names().stream().filter(k -> k.startsWith(prefix)).map(k -> k.substring(prefix.length())).toList());
                var it = Golden.json(km).fields();
                while (it.hasNext()) {
                    var e = it.next();
                    if (!e.getValue().get("component").asText().equals("unet")) continue;
                    String orig = e.getKey();
                    assertTrue(orig.startsWith(prefix), orig);
                    String want = e.getValue().get("diffusers_key").asText();
                    String got = UnetKeys.toDiffusers(orig.substring(prefix.length()), layers);
                    if (!want.equals(got)) wrong.add(orig + " -> " + got + " (expected " + want + ")");
                    TensorView t = f.get(orig);
                    TensorView a = UnetKeys.adapt(t.renamed(want));
                    if (!e.getValue().get("reshape").asBoolean())
                        assertTrue(Arrays.equals(t.shape(), a.shape()), orig + " must keep its shape");
                    checked++;
                }
            }
            assertEquals(List.of(), wrong, dir.getFileName() + ": wrong unet key mappings");
        }
        assertTrue(checked > 0, "no single-file key maps with unet entries found");
    }

    @Test
    void unknownKeysSurfaceAsUnexpected() {
        assertEquals("original:input_blocks.1.7.foo", UnetKeys.toDiffusers("input_blocks.1.7.foo"));
        assertEquals("original:label_emb.1.0.weight", UnetKeys.toDiffusers("label_emb.1.0.weight"));
        assertEquals("original:label_emb.0.1.weight", UnetKeys.toDiffusers("label_emb.0.1.weight"));
        assertEquals("add_embedding.linear_2.bias", UnetKeys.toDiffusers("label_emb.0.2.bias"));
        assertEquals("time_embedding.cond_proj.weight", UnetKeys.toDiffusers("time_embed.cond_proj.weight"));
        // another layers_per_block: level 1's first resnet is input_blocks.4 with L=2, input_blocks.5 with L=3
        assertEquals("down_blocks.1.resnets.0.conv1.weight", UnetKeys.toDiffusers("input_blocks.5.0.in_layers.2.weight", 3));
        assertEquals("up_blocks.0.upsamplers.0.conv.weight", UnetKeys.toDiffusers("output_blocks.3.1.conv.weight", 3));
    }

    /** Layers per block come from the keys: the first down-sampler's input block is L + 1. */
    @Test
    void layersPerBlockFromTheKeys() {
        assertEquals(2, UnetKeys.layersPerBlock(List.of("input_blocks.0.0.weight", "input_blocks.3.0.op.weight", "input_blocks.6.0.op.weight",
                "input_blocks.8.0.in_layers.0.weight")));
        assertEquals(1, UnetKeys.layersPerBlock(List.of("input_blocks.2.0.op.weight", "input_blocks.1.0.in_layers.0.weight")));
        assertEquals(3, UnetKeys.layersPerBlock(List.of("input_blocks.3.1.norm.weight", "input_blocks.1.0.in_layers.0.weight"))); // one level
        assertEquals(UnetKeys.DEFAULT_LAYERS_PER_BLOCK, UnetKeys.layersPerBlock(List.of("out.0.weight")));
    }
}

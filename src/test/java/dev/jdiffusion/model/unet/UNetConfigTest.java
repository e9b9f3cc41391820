package dev.jdiffusion.model.unet;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Config parsing (per-level lists, reversal for up levels) and inference from shapes on the golden models. */
class UNetConfigTest {

    @Test
    void perLevelHeadListsAndLinearProjection() {
        var json = Golden.json(Golden.resolve("models/tiny-sd2-unet/config.json"));
        UNetConfig c = UNetConfig.fromJson(json);
        int n = json.get("block_out_channels").size();
        assertEquals(n, c.levels());
        for (int i = 0; i < n; i++) assertEquals(json.get("attention_head_dim").get(i).asInt(), c.attentionHeads()[i]);
        assertTrue(c.useLinearProjection());
        assertEquals(0, c.timeCondProjDim());
        assertEquals(json.get("block_out_channels").get(0).asInt() * 4, c.timeEmbedDim());
    }

    @Test
    void lcmHasTimeCondProjDim() {
        var json = Golden.json(Golden.resolve("models/tiny-lcm/unet/config.json"));
        assertEquals(json.get("time_cond_proj_dim").asInt(), UNetConfig.fromJson(json).timeCondProjDim());
    }

    @Test
    void inferenceReadsStructureFromShapes() {
        for (String model : List.of("models/tiny-sd1/unet", "models/tiny-sd2-unet", "models/tiny-lcm/unet", "models/tiny-sd2-unet-fp16")) {
            var json = Golden.json(Golden.resolve(model + "/config.json"));
            UNetConfig c = UNetConfig.fromJson(json);
            try (TensorSource t = Checkpoint.openWeights(Golden.resolve(model))) {
                UNetConfig i = UNetConfig.infer(t);
                assertArrayEquals(c.blockOutChannels(), i.blockOutChannels(), model);
                assertEquals(c.downBlockTypes(), i.downBlockTypes(), model);
                assertEquals(c.upBlockTypes(), i.upBlockTypes(), model);
                assertArrayEquals(c.layersPerBlock(), i.layersPerBlock(), model);
                assertArrayEquals(c.transformerLayers(), i.transformerLayers(), model);
                assertArrayEquals(c.upTransformerLayers(), i.upTransformerLayers(), model);
                assertEquals(c.crossAttentionDim(), i.crossAttentionDim(), model);
                assertEquals(c.useLinearProjection(), i.useLinearProjection(), model);
                assertEquals(c.timeCondProjDim(), i.timeCondProjDim(), model);
                assertEquals(c.timeEmbedDim(), i.timeEmbedDim(), model);
                assertEquals(c.midBlock(), i.midBlock(), model);
            }
        }
    }
}

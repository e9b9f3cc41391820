package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.golden.UnetGolden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.SafetensorsWriter;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SSD-1B / Segmind Vega style U-Nets: a transformer depth per layer ({@code transformer_layers_per_block} with a list
 * per block, {@code reverse_transformer_layers_per_block} a list of lists) and a mid block of one resnet
 * ({@code UNetMidBlock2D}). The model is derived from the golden SDXL U-Net: every attention of the derived config
 * gets another depth than the original (one block fewer or more, alternating) and the mid block loses its attention
 * and second resnet. Its weights are the original's, minus the blocks it drops, plus copies of block 0 for the blocks
 * it adds, with the added blocks' output projections zero (so they are identities). The original structure with the
 * dropped parts made identities the same way (zero output projections) must then compute the same bits as the
 * derived one on the golden case's inputs; it must differ from the untouched original (the dropped parts mattered).
 */
class NestedTransformerDepthTest {
    @TempDir Path dir;

    private static final Pattern BLOCK = Pattern.compile("^((?:down_blocks|up_blocks)\\.(\\d+)\\.attentions\\.(\\d+)|mid_block\\.attentions\\.0)\\.transformer_blocks\\.(\\d+)\\.(.+)$");
    /** The parameters whose zeros make a block an identity (residual outputs). */
    private static final Pattern OUTPUT = Pattern.compile("^(attn1\\.to_out\\.0|attn2\\.to_out\\.0|ff\\.net\\.2)\\.(weight|bias)$");

    /** The golden SDXL U-Net case (kind unet, family sdxl). */
    private static Path sdxlUnetCase() {
        for (Path c : Golden.caseDirs()) {
            JsonNode info = Golden.json(c.resolve("info.json"));
            if (info.path("kind").asText().equals("unet") && info.path("family").asText().equals("sdxl")) return c;
        }
        throw new AssertionError("no golden unet case of family sdxl");
    }

    @Test
    void perLayerDepthsAndResnetMidBlockMatchTheFlatModelWithIdentities() throws Exception {
        Path caseDir = sdxlUnetCase();
        Path model = Golden.resolve(Golden.json(caseDir.resolve("info.json")).get("model").asText());
        ObjectNode cfg = (ObjectNode) Golden.json(model.resolve("config.json"));
        UNetConfig flat = UNetConfig.fromJson(cfg);
        int n = flat.levels();
        assertTrue(flat.midAttention(), "the golden SDXL U-Net has a cross-attention mid block");

        // The derived config: per layer of an attention level, one block fewer (where there is more than one) or more,
        // alternating (the depth of a level without attention means nothing: kept).
        int[][] down = new int[n][], upd = new int[n][];
        ArrayNode tl = cfg.arrayNode(), rtl = cfg.arrayNode();
        for (int i = 0; i < n; i++) {
            down[i] = flat.downHasAttention(i) ? derive(flat.transformerLayers()[i], 0) : flat.transformerLayers()[i];
            ArrayNode a = tl.addArray();
            for (int d : down[i]) a.add(d);
        }
        for (int i = 0; i < n; i++) {
            upd[i] = flat.upHasAttention(i) ? derive(flat.upTransformerLayers()[i], 1) : flat.upTransformerLayers()[i];
            ArrayNode a = rtl.addArray();
            for (int d : upd[i]) a.add(d);
        }
        ObjectNode nested = cfg.deepCopy();
        nested.set("transformer_layers_per_block", tl);
        nested.set("reverse_transformer_layers_per_block", rtl);
        nested.put("mid_block_type", UNetConfig.MID_RESNET);
        UNetConfig c = UNetConfig.fromJson(nested);
        assertArrayEquals(down, c.transformerLayers());
        assertArrayEquals(upd, c.upTransformerLayers());
        assertTrue(c.midBlock() && !c.midAttention());

        // Weights of both models.
        Map<String, Tensor> flatW = new LinkedHashMap<>(), nestedW = new LinkedHashMap<>(), original = new LinkedHashMap<>();
        try (TensorSource w = Checkpoint.openWeights(model)) {
            for (String name : new TreeSet<>(w.names())) original.put(name, Tensor.of(w.get(name)));
        }
        int dropped = 0, added = 0;
        for (Map.Entry<String, Tensor> e : original.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            Matcher m = BLOCK.matcher(name);
            boolean midPart = name.startsWith("mid_block.attentions.") || name.startsWith("mid_block.resnets.1.");
            int keep = m.matches() && !midPart ? depthOf(m, c) : Integer.MAX_VALUE;
            boolean drop = midPart || (m.matches() && Integer.parseInt(m.group(4)) >= keep);
            // identities in the flat model: the dropped blocks' output projections, the mid attention's proj_out and
            // the second mid resnet's last convolution
            boolean zero = drop && ((m.matches() && OUTPUT.matcher(m.group(5)).matches())
                    || name.startsWith("mid_block.attentions.0.proj_out.") || name.startsWith("mid_block.resnets.1.conv2."));
            flatW.put(name, zero ? Tensor.zeros(t.shape()) : t);
            if (drop) {
                if (zero) dropped++;
                continue;
            }
            nestedW.put(name, t);
            // blocks the derived model adds: copies of block 0 that are identities
            if (m.matches() && m.group(4).equals("0"))
                for (int k = flatDepthOf(m, flat); k < keep; k++) {
                    nestedW.put(m.group(1) + ".transformer_blocks." + k + "." + m.group(5),
                            OUTPUT.matcher(m.group(5)).matches() ? Tensor.zeros(t.shape()) : t);
                    added++;
                }
        }
        assertTrue(dropped > 0 && added > 0, "the derived model must both drop and add transformer blocks");
        Path flatDir = write("flat", flatW, cfg), nestedDir = write("nested", nestedW, nested);

        try (TensorSource a = Checkpoint.openWeights(flatDir); TensorSource b = Checkpoint.openWeights(nestedDir);
             TensorSource o = Checkpoint.openWeights(model);
             SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"))) {
            // the shapes tell the per-layer depths and the resnet-only mid block
            UNetConfig inferred = UNetConfig.infer(b);
            assertArrayEquals(c.transformerLayers(), inferred.transformerLayers());
            assertArrayEquals(c.upTransformerLayers(), inferred.upTransformerLayers());
            assertEquals(c.midBlock(), inferred.midBlock());
            assertEquals(c.midAttention(), inferred.midAttention());

            UNet2DConditionModel ua = UNet2DConditionModel.load(a, cfg), ub = UNet2DConditionModel.load(b, nested),
                    uo = UNet2DConditionModel.load(o, cfg);
            // the flat reading of the derived weights is refused (blocks missing / unexpected)
            assertThrows(ModelFormatException.class, () -> UNet2DConditionModel.load(b, cfg));
            int compared = 0;
            for (String sub : new TreeSet<>(in.names().stream().filter(k -> k.endsWith(".sample")).map(k -> k.substring(0, k.length() - 7)).toList())) {
                Tensor x = Tensor.of(in.get(sub + ".sample")), ctx = Tensor.of(in.get(sub + ".encoder_hidden_states"));
                float[] t = in.get(sub + ".timestep").toFloatArray();
                var add = UnetGolden.added(in, sub);
                float[] ya = ua.forward(x, t, ctx, null, add, null, null).data(), yb = ub.forward(x, t, ctx, null, add, null, null).data();
                assertArrayEquals(ya, yb, sub + ": the per-layer-depth model differs from the flat one with identities");
                assertFalse(Arrays.equals(ya, uo.forward(x, t, ctx, null, add, null, null).data()), sub + ": the dropped parts changed nothing");
                compared++;
            }
            assertTrue(compared > 0);
            System.out.printf("nested depths %s / up %s, mid %s: %d sub-cases bit-identical to the flat model with identities%n",
                    Arrays.deepToString(c.transformerLayers()), Arrays.deepToString(c.upTransformerLayers()), UNetConfig.MID_RESNET, compared);
        }
    }

    @Test
    void nestedDownDepthsNeedTheUpDepths() {
        ObjectNode cfg = (ObjectNode) Golden.json(Golden.resolve(Golden.json(sdxlUnetCase().resolve("info.json")).get("model").asText()).resolve("config.json"));
        int n = cfg.get("block_out_channels").size(), lpb = cfg.get("layers_per_block").asInt();
        ArrayNode tl = cfg.arrayNode();
        for (int i = 0; i < n; i++) {
            ArrayNode a = tl.addArray();
            for (int j = 0; j < lpb; j++) a.add(1);
        }
        cfg.set("transformer_layers_per_block", tl);
        var e = assertThrows(ModelFormatException.class, () -> UNetConfig.fromJson(cfg));
        assertTrue(e.getMessage().contains("reverse_transformer_layers_per_block"), e.getMessage());
        ((ArrayNode) tl.get(0)).add(1); // one entry too many for its block
        cfg.set("reverse_transformer_layers_per_block", cfg.arrayNode());
        e = assertThrows(ModelFormatException.class, () -> UNetConfig.fromJson(cfg));
        assertTrue(e.getMessage().contains("transformer_layers_per_block[0] has"), e.getMessage());
    }

    /** One block fewer where there is more than one, else one more; every other layer (from start) keeps its depth. */
    private static int[] derive(int[] depths, int start) {
        int[] r = depths.clone();
        for (int j = start; j < r.length; j += 2) r[j] = r[j] > 1 ? r[j] - 1 : r[j] + 1;
        return r;
    }

    private static int depthOf(Matcher m, UNetConfig c) {
        int level = Integer.parseInt(m.group(2)), layer = Integer.parseInt(m.group(3));
        return m.group(1).startsWith("down") ? c.transformerLayers()[level][layer] : c.upTransformerLayers()[level][layer];
    }

    private static int flatDepthOf(Matcher m, UNetConfig c) {
        if (m.group(1).startsWith("mid")) return c.midTransformerLayers();
        return depthOf(m, c);
    }

    private Path write(String name, Map<String, Tensor> weights, JsonNode config) throws Exception {
        Path d = Files.createDirectories(dir.resolve(name));
        SafetensorsWriter.write(d.resolve("diffusion_pytorch_model.safetensors"), weights, DType.F32, Map.of());
        Files.writeString(d.resolve("config.json"), config.toPrettyString());
        return d;
    }
}

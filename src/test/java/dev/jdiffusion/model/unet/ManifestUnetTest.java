package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import dev.jdiffusion.weights.UnetKeys;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Full-size Stable Diffusion 1.5 names and shapes (shared/manifests, no values): the diffusers layout validates
 * against SD 1.5's published config; the original layout maps through {@link UnetKeys} to the same names and its
 * inferred config is SD 1.5's.
 */
class ManifestUnetTest {
    static final String SD15_CONFIG = """
            {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8,
             "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false, "cross_attention_dim": 768,
             "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
             "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
             "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}""";

    static Path manifests() { return Golden.dir().resolveSibling("manifests"); }

    /** A source with the manifest's names and shapes, every tensor reading zeros from one shared segment. */
    static TensorSource fake(Map<String, JsonNode> entries, Arena arena) {
        long max = 0;
        for (JsonNode e : entries.values()) {
            long n = 1;
            for (JsonNode d : e.get("shape")) n *= d.asLong();
            max = Math.max(max, n);
        }
        MemorySegment zeros = arena.allocate(max * 4);
        Map<String, TensorView> views = new LinkedHashMap<>();
        entries.forEach((name, e) -> {
            long[] shape = new long[e.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.get("shape").get(i).asLong();
            DType dt = DType.valueOf(e.get("dtype").asText());
            long n = 1;
            for (long d : shape) n *= d;
            views.put(name, new TensorView(name, "manifest", dt, shape, zeros.asSlice(0, n * dt.bytes())));
        });
        return new TensorSource() {
            @Override public Set<String> names() { return views.keySet(); }
            @Override public TensorView find(String name) { return views.get(name); }
            @Override public String description() { return "manifest"; }
        };
    }

    static Map<String, JsonNode> read(Path file, String sub) throws Exception {
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        if (sub != null) root = root.get(sub);
        Map<String, JsonNode> m = new LinkedHashMap<>();
        root.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }

    @Test
    void sd15DiffusersAndOriginalLayouts() throws Exception {
        Path dif = manifests().resolve("sd15-diffusers.json"), ldm = manifests().resolve("sd15-ldm.json");
        assumeTrue(Files.isRegularFile(dif) && Files.isRegularFile(ldm), "no SD 1.5 manifests");
        try (Arena arena = Arena.ofShared()) {
            TensorSource d = fake(read(dif, "unet/diffusion_pytorch_model.safetensors"), arena);
            UNet2DConditionModel m = UNet2DConditionModel.load(d, new ObjectMapper().readTree(SD15_CONFIG));
            long f = UNet2DConditionModel.flops(m.config(), 1, 64, 64, 77);
            System.out.printf("SD 1.5 unet, 1 x 64x64 latent, 77 tokens: %.1f GFLOP%n", f / 1e9);
            assertEquals(2 * f, UNet2DConditionModel.flops(m.config(), 2, 64, 64, 77));

            String prefix = Checkpoint.singlePrefix(Checkpoint.UNET);
            TensorSource single = fake(read(ldm, null), arena)
                    .mapped("ldm", k -> k.startsWith(prefix) ? UnetKeys.toDiffusers(k.substring(prefix.length())) : null, UnetKeys::adapt);
            assertEquals(d.names(), Set.copyOf(single.names()));
            UNetConfig inferred = UNetConfig.infer(single);
            assertArrayEquals(new int[]{320, 640, 1280, 1280}, inferred.blockOutChannels());
            assertArrayEquals(new int[]{8, 8, 8, 8}, inferred.attentionHeads());
            assertEquals(768, inferred.crossAttentionDim());
            assertEquals(m.config().downBlockTypes(), inferred.downBlockTypes());
            assertEquals(m.config().upBlockTypes(), inferred.upBlockTypes());
            assertEquals(List.of(32, false, 0, 1280), List.of(inferred.normNumGroups(), inferred.useLinearProjection(),
                    inferred.timeCondProjDim(), inferred.timeEmbedDim()));
            UNet2DConditionModel.load(single, (JsonNode) null);
            assertTrue(f > 0);
        }
    }
}

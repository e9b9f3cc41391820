package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.clip.ClipTextConfig;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.TensorSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Fuzzes {@link Checkpoint#open} on a diffusers-style folder whose {@code model_index.json}, per-component
 * {@code config.json} and weight files are fuzzer-chosen (valid, garbage, absent, folders in their place),
 * and on single files with fuzzed names and contents. Every component is asked for ({@code has},
 * {@code config}, {@code tensors}, every tensor read); the only acceptable failure is a
 * {@link dev.jdiffusion.weights.ModelFormatException}.
 */
class CheckpointFuzzTest {
    private static final Path DIR = Outcomes.tempDir("jd-fuzz-ckpt");
    private static final String[] COMPONENTS = {Checkpoint.UNET, Checkpoint.VAE, Checkpoint.TEXT_ENCODER,
            Checkpoint.TOKENIZER, Checkpoint.SCHEDULER, "", "..", "nope"};
    private static final String[] WEIGHT_FILES = {"diffusion_pytorch_model.safetensors", "model.safetensors",
            "diffusion_pytorch_model.fp16.safetensors", "model.bf16.safetensors", "diffusion_pytorch_model.safetensors.index.json",
            "model.safetensors.index.json", "diffusion_pytorch_model.bin", "config.json", "vocab.json", "merges.txt",
            "scheduler_config.json"};
    private static final String[] SINGLE_NAMES = {"model.safetensors", "model.ckpt", "model.PT", "model.pth", "model.bin",
            "model", "sd.SafeTensors"};
    private static final byte[] VALID = TinySafetensors.f32(Map.of("conv_in.weight", new long[]{2, 1, 1, 1},
            "model.diffusion_model.input_blocks.0.0.weight", new long[]{2, 1, 1, 1},
            "cond_stage_model.transformer.text_model.final_layer_norm.weight", new long[]{2},
            "first_stage_model.decoder.conv_in.bias", new long[]{2}));
    private static final String CLIP_CONFIG = """
            {"vocab_size": 1000, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
             "num_attention_heads": 4, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}""";

    @FuzzTest(maxDuration = "30s")
    void diffusersFolder(FuzzedDataProvider in) {
        Outcomes.clear(DIR);
        Path root = DIR.resolve("model");
        try {
            Files.createDirectories(root);
            if (in.consumeBoolean()) Outcomes.write(root.resolve("model_index.json"), bytes(in));
            int files = in.consumeInt(0, 6);
            for (int i = 0; i < files; i++) {
                Path d = root.resolve(in.pickValue(new String[]{Checkpoint.UNET, Checkpoint.VAE, Checkpoint.TEXT_ENCODER,
                        Checkpoint.TOKENIZER, Checkpoint.SCHEDULER}));
                Files.createDirectories(d);
                Path f = d.resolve(in.pickValue(WEIGHT_FILES));
                if (Files.exists(f)) continue;
                switch (in.consumeInt(0, 5)) {
                    case 0 -> Outcomes.write(f, VALID);
                    case 1 -> Files.createDirectories(f);
                    case 2 -> Outcomes.write(f, CLIP_CONFIG.getBytes(StandardCharsets.UTF_8));
                    default -> Outcomes.write(f, bytes(in));
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        String[] asked = new String[in.consumeInt(1, 4)];
        for (int i = 0; i < asked.length; i++) asked[i] = in.pickValue(COMPONENTS);
        Outcomes.expectResultOrModelFormat(() -> exercise(root, asked));
    }

    @FuzzTest(maxDuration = "30s")
    void singleFile(FuzzedDataProvider in) {
        Outcomes.clear(DIR);
        Path f = DIR.resolve(in.pickValue(SINGLE_NAMES));
        String[] asked = {in.pickValue(COMPONENTS), in.pickValue(COMPONENTS)};
        Outcomes.write(f, in.consumeBoolean() ? VALID : in.consumeRemainingAsBytes());
        Outcomes.expectResultOrModelFormat(() -> exercise(f, asked));
    }

    private static byte[] bytes(FuzzedDataProvider in) {
        return in.consumeBoolean() ? in.consumeString(200).getBytes(StandardCharsets.UTF_8) : in.consumeBytes(200);
    }

    private static void exercise(Path p, String[] components) {
        try (Checkpoint c = Checkpoint.open(p)) {
            c.layout();
            for (String comp : components) {
                c.componentDir(comp);
                boolean has = c.has(comp);
                JsonNode cfg = c.config(comp);
                if (cfg != null && comp.equals(Checkpoint.TEXT_ENCODER)) ClipTextConfig.fromJson(cfg, p + "/" + comp + "/config.json");
                if (has || comp.length() % 2 == 0) {
                    TensorSource s = c.tensors(comp);
                    for (String n : s.names()) s.get(n).toFloatArray();
                }
            }
        }
    }
}

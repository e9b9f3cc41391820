package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.cli.Main;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsWriter;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SDXL families on the tiny golden SDXL model and small edits of it in temp folders (the other parts linked):
 * base, Turbo (the golden Turbo folder's scheduler), a few-step Lightning/Hyper-style model (trailing Euler, a
 * 1024-px U-Net), LCM-SDXL (a U-Net with time_cond_proj_dim) and the refiner (the second text encoder alone, 5 time
 * ids). Each is detected alike by generate and info, its defaults follow the family, and it generates.
 */
class SdxlFamiliesTest {
    @TempDir Path dir;

    /** The golden SDXL pipeline folders: [0] the complete model, [1] the Turbo folder of a scheduler only. */
    private static Path[] golden() {
        Path base = null, turbo = null;
        for (Path c : Golden.caseDirs()) {
            JsonNode info = Golden.json(c.resolve("info.json"));
            if (!info.path("kind").asText().equals("pipeline") || !info.path("family").asText().equals("sdxl")) continue;
            Path m = Golden.resolve(info.get("model").asText());
            if (Files.isDirectory(m.resolve(Checkpoint.UNET))) base = m;
            else if ("trailing".equals(Golden.json(m.resolve("scheduler/scheduler_config.json")).path("timestep_spacing").asText())) turbo = m;
        }
        assertNotNull(base, "no golden SDXL pipeline folder");
        assertNotNull(turbo, "no golden SDXL-Turbo scheduler folder");
        return new Path[]{base, turbo};
    }

    @Test
    void baseTurboFewStepAndLcmAreDetectedAndTheirDefaultsFollow() throws IOException {
        Path[] g = golden();
        Path base = g[0];
        check(base, ModelFamily.SDXL, "euler", 30, 5f, 1024);
        check(model("turbo", base, Map.of(Checkpoint.SCHEDULER, g[1].resolve(Checkpoint.SCHEDULER))), ModelFamily.SDXL_TURBO, "euler_a", 1, 0f, 512);

        // Lightning / Hyper-SDXL: an SDXL U-Net of 1024-px native size with Euler on trailing timesteps
        Path sched = dir.resolve("trailing");
        Files.createDirectories(sched);
        edit(base.resolve("scheduler/scheduler_config.json"), sched.resolve("scheduler_config.json"), c -> c.put("timestep_spacing", "trailing"));
        Path unet1024 = unet("unet1024", base, c -> c.put("sample_size", 128), w -> w);
        check(model("fewstep", base, Map.of(Checkpoint.SCHEDULER, sched, Checkpoint.UNET, unet1024)), ModelFamily.SDXL_FEW_STEP, "euler", 4, 0f, 1024);

        // LCM-SDXL: a U-Net with a guidance embedding (time_embedding.cond_proj)
        int condDim = 8;
        Path lcm = unet("unetlcm", base, c -> c.put("time_cond_proj_dim", condDim), w -> {
            int proj = Math.toIntExact(w.get("time_embedding.linear_1.weight").dim(1));
            w.put("time_embedding.cond_proj.weight", new Tensor(ramp(proj * condDim), proj, condDim));
            return w;
        });
        check(model("lcm", base, Map.of(Checkpoint.UNET, lcm)), ModelFamily.SDXL_LCM, "lcm", 4, 8f, 1024);

        // U-Nets on their own, as Lightning / LCM-SDXL U-Nets are downloaded: a component folder and a bare file
        String folderInfo = info(lcm);
        assertTrue(folderInfo.contains("family:     " + ModelFamily.SDXL_LCM.label() + " ("), folderInfo);
        String fileInfo = info(unet1024.resolve("diffusion_pytorch_model.safetensors"));
        assertTrue(fileInfo.contains("family:     " + ModelFamily.SDXL.label() + " (") && fileInfo.contains("Lightning"), fileInfo);
        String lcmFileInfo = info(lcm.resolve("diffusion_pytorch_model.safetensors"));
        assertTrue(lcmFileInfo.contains("family:     " + ModelFamily.SDXL_LCM.label() + " ("), lcmFileInfo);
    }

    /**
     * The refiner: only text_encoder_2 / tokenizer_2, a U-Net whose context is the second encoder's states alone and
     * whose add_embedding takes 5 time ids (derived from the golden U-Net: the cross-attention keys/values and
     * add_embedding.linear_1 keep their first columns). The context is the second encoder's penultimate state, the
     * time ids end with the aesthetic score (6 for the prompt, 2.5 for the negative), info names it.
     */
    @Test
    void refinerRunsOnTheSecondEncoderWithAnAestheticScore() throws IOException {
        Path base = golden()[0];
        JsonNode te2 = Golden.json(base.resolve("text_encoder_2/config.json")), u = Golden.json(base.resolve("unet/config.json"));
        int hidden2 = te2.get("hidden_size").asInt(), pd = te2.get("projection_dim").asInt(), addTime = u.get("addition_time_embed_dim").asInt();
        int addIn = pd + 5 * addTime;
        Path unet = unet("unetrefiner", base, c -> c.put("cross_attention_dim", hidden2).put("projection_class_embeddings_input_dim", addIn), w -> {
            for (String k : new TreeSet<>(w.keySet()))
                if (k.endsWith("attn2.to_k.weight") || k.endsWith("attn2.to_v.weight")) w.put(k, columns(w.get(k), hidden2));
            w.put("add_embedding.linear_1.weight", columns(w.get("add_embedding.linear_1.weight"), addIn));
            return w;
        });
        Map<String, Path> parts = new LinkedHashMap<>();
        parts.put(Checkpoint.UNET, unet);
        parts.put(Checkpoint.TEXT_ENCODER, null);
        parts.put(Checkpoint.TOKENIZER, null);
        Path refiner = model("refiner", base, parts);
        String info = info(refiner);
        assertTrue(info.contains("family:     SDXL (") && info.contains("refiner"), info);
        assertTrue(info.contains("missing:    none"), info);

        Tensor[] seen = new Tensor[2];
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(refiner))) {
            assertEquals(ModelFamily.SDXL, sd.family());
            assertEquals(null, sd.components().textEncoder());
            String prompt = "a photo of a cat";
            sd.generate(GenerationRequest.builder(prompt).size(64, 48).steps(2).seed(3).build(), null, null, new StableDiffusion.StepTrace() {
                @Override public void onStep(int i, Tensor in, Tensor out, Tensor latents, Tensor denoised) {}
                @Override public void onEmbeddings(Tensor e) { seen[0] = e; }
                @Override public void onAddedConditioning(Tensor textEmbeds, Tensor timeIds) { seen[1] = timeIds; }
            });
            // guidance 5: [negative, prompt]; the negative is not given, so zeros (force_zeros_for_empty_prompt)
            assertArrayEquals(new int[]{2, 5}, seen[1].shape());
            assertArrayEquals(new float[]{48, 64, 0, 0, 2.5f, 48, 64, 0, 0, 6f}, seen[1].data());
            var sdxl = sd.components().sdxl();
            Tensor want = new SdxlConditioner(null, sdxl.textEncoder2()).encodeIds(null, new int[][]{sdxl.tokenizer2().encode(prompt)}).context();
            assertEquals(hidden2, seen[0].dim(2));
            int per = want.numel();
            float[] row = java.util.Arrays.copyOfRange(seen[0].data(), per, 2 * per), neg = java.util.Arrays.copyOfRange(seen[0].data(), 0, per);
            assertArrayEquals(want.data(), row, "the refiner's context is the second encoder's penultimate state");
            assertArrayEquals(new float[per], neg);
        }

        // the base U-Net with the first encoder missing is not a refiner: one clear line
        Map<String, Path> noTe1 = new LinkedHashMap<>();
        noTe1.put(Checkpoint.TEXT_ENCODER, null);
        noTe1.put(Checkpoint.TOKENIZER, null);
        Path broken = model("noencoder1", base, noTe1);
        var e = assertThrows(ModelFormatException.class, () -> StableDiffusion.load(ModelOptions.of(broken)).close());
        assertTrue(e.getMessage().contains("text_encoder/") && e.getMessage().contains("--text-encoder") && !e.getMessage().contains("\n"), e.getMessage());
    }

    /** Family by generate and by info agree; the unset request fields take the family's defaults; it generates. */
    private void check(Path model, ModelFamily want, String sampler, int steps, float guidance, int size) {
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(model))) {
            assertEquals(want, sd.family(), model.toString());
            StableDiffusion.Resolved r = sd.resolve(GenerationRequest.builder("a cat").seed(1).build());
            assertEquals(new StableDiffusion.Resolved(sampler, steps, guidance, size, size, 1), r, want + " defaults");
            var out = sd.generate(GenerationRequest.builder("a cat").size(64, 64).steps(Math.min(steps, 2)).seed(1).build());
            TinyModels.assertImages(out.images(), 1, 64, 64);
        }
        try (Checkpoint c = Checkpoint.open(model)) {
            assertEquals(want, ModelFamily.of(c).family());
        }
        String info = info(model);
        assertTrue(info.contains("family:     " + want.label() + " ("), info);
        System.out.printf("family %-32s %s: %s %d steps, guidance %s, %dx%d%n", model.getFileName(), want.label(), sampler, steps, guidance, size, size);
    }

    private static String info(Path model) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"info", model.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, text);
        return text;
    }

    /** A model folder: base's entries linked, those in replaced swapped for the given path (or left out when null). */
    private Path model(String name, Path base, Map<String, Path> replaced) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        try (Stream<Path> s = Files.list(base)) {
            for (Path f : s.toList()) {
                String n = f.getFileName().toString();
                if (replaced.containsKey(n) && replaced.get(n) == null) continue;
                Files.createSymbolicLink(d.resolve(n), replaced.getOrDefault(n, f).toAbsolutePath());
            }
        }
        return d;
    }

    /** A U-Net folder: base's config edited, its weights (as float32) passed through weights. */
    private Path unet(String name, Path base, java.util.function.Consumer<ObjectNode> config,
                      UnaryOperator<Map<String, Tensor>> weights) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        edit(base.resolve("unet/config.json"), d.resolve("config.json"), config);
        Map<String, Tensor> w = new LinkedHashMap<>();
        try (TensorSource t = Checkpoint.openWeights(base.resolve(Checkpoint.UNET))) {
            for (String n : new TreeSet<>(t.names())) w.put(n, Tensor.of(t.get(n)));
        }
        SafetensorsWriter.write(d.resolve("diffusion_pytorch_model.safetensors"), weights.apply(w), DType.F32, Map.of());
        return d;
    }

    private static void edit(Path from, Path to, java.util.function.Consumer<ObjectNode> change) throws IOException {
        ObjectNode c = (ObjectNode) Golden.json(from);
        change.accept(c);
        Files.writeString(to, c.toPrettyString());
    }

    /** The first n columns of a 2-D tensor. */
    private static Tensor columns(Tensor t, int n) {
        int rows = t.dim(0), cols = t.dim(1);
        float[] out = new float[rows * n];
        for (int r = 0; r < rows; r++) System.arraycopy(t.data(), r * cols, out, r * n, n);
        return new Tensor(out, rows, n);
    }

    private static float[] ramp(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = ((i * 37) % 17 - 8) / 64f;
        return a;
    }
}

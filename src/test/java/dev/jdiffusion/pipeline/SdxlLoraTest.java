package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.lora.LoraApplier;
import dev.jdiffusion.lora.LoraFile;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.LoraTargets;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRAs for SDXL's second text encoder ({@code lora_te2_*} kohya keys, {@code text_encoder_2.*} diffusers/PEFT keys)
 * change encoder 2 and nothing else, by exactly their low-rank term: on the weights of the folder and of the single
 * file (where q/k/v are row slices of OpenCLIP's fused in_proj), and through a generation, where a LoRA on the text
 * projection moves the pooled embedding the U-Net sees by scale x (pooled down^T) up^T.
 */
class SdxlLoraTest {
    @TempDir Path dir;

    private static final int RANK = 2;

    /** The golden SDXL folder and its single file (the single_file case of family sdxl). */
    private static Path[] models() {
        for (Path c : Golden.caseDirs()) {
            JsonNode info = Golden.json(c.resolve("info.json"));
            if (info.path("kind").asText().equals("single_file") && info.path("family").asText().equals("sdxl"))
                return new Path[]{Golden.resolve(info.get("made_from").asText()), Golden.resolve(info.get("file").asText())};
        }
        throw new AssertionError("no single_file golden case of family sdxl");
    }

    @Test
    void kohyaAndPeftKeysChangeTheSecondEncodersWeightsByTheirTerm() throws Exception {
        Path[] m = models();
        JsonNode cfg2 = Golden.json(m[0].resolve("text_encoder_2/config.json"));
        int d = cfg2.get("hidden_size").asInt(), f = cfg2.get("intermediate_size").asInt();
        String q = "text_model.encoder.layers.0.self_attn.q_proj", fc1 = "text_model.encoder.layers.1.mlp.fc1";
        float[] qDown = ramp(RANK * d, 1), qUp = ramp(d * RANK, 2), fDown = ramp(RANK * d, 3), fUp = ramp(f * RANK, 4);
        float alpha = 1f, weight = 0.75f;
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lora_te2_" + q.replace('.', '_') + ".lora_down.weight", new Tensor(qDown, RANK, d));
        t.put("lora_te2_" + q.replace('.', '_') + ".lora_up.weight", new Tensor(qUp, d, RANK));
        t.put("lora_te2_" + q.replace('.', '_') + ".alpha", new Tensor(new float[]{alpha}, 1));
        t.put("text_encoder_2." + fc1 + ".lora_A.weight", new Tensor(fDown, RANK, d));
        t.put("text_encoder_2." + fc1 + ".lora_B.weight", new Tensor(fUp, f, RANK));
        Path file = dir.resolve("te2.safetensors");
        SafetensorsWriter.write(file, t, DType.F32, Map.of());
        LoraFile lora = LoraFile.open(file);

        for (Path model : m) {
            try (Checkpoint ck = Checkpoint.open(model)) {
                LoraTargets unet = new LoraTargets(ck.tensors(Checkpoint.UNET)), te1 = new LoraTargets(ck.tensors(Checkpoint.TEXT_ENCODER)),
                        te2 = new LoraTargets(ck.tensors(Checkpoint.TEXT_ENCODER_2));
                UNetConfig uc = UNetConfig.infer(unet);
                float[] q0 = te2.get(q + ".weight").toFloatArray(), f0 = te2.get(fc1 + ".weight").toFloatArray();
                float[] q1 = te1.get(q + ".weight").toFloatArray();
                new LoraApplier(unet, uc.layersPerBlock()[0], te1, te2).apply(List.of(new LoraApplier.Weighted(lora, weight)));
                expectDelta(model + " " + q, q0, te2.get(q + ".weight").toFloatArray(), weight * alpha / RANK, qUp, qDown, d, d);
                expectDelta(model + " " + fc1, f0, te2.get(fc1 + ".weight").toFloatArray(), weight, fUp, fDown, f, d); // no alpha: alpha = rank
                assertArrayEquals(q1, te1.get(q + ".weight").toFloatArray(), "the first encoder's q_proj is untouched");
                assertTrue(te1.applied().isEmpty() && unet.applied().isEmpty(), "only encoder 2 gets terms");
                assertEquals(2, te2.applied().size());
            }
        }
    }

    /**
     * Through a generation: a LoRA on encoder 2's text_projection (a linear without bias after the pooling) moves the
     * text_embeds the U-Net sees by exactly scale x pooled @ down^T @ up^T, and leaves the context alone.
     */
    @Test
    void aTextProjectionLoraMovesThePooledEmbeddingByItsTerm() throws Exception {
        Path folder = models()[0];
        JsonNode cfg2 = Golden.json(folder.resolve("text_encoder_2/config.json"));
        int d = cfg2.get("hidden_size").asInt(), p = cfg2.get("projection_dim").asInt();
        float[] down = ramp(RANK * d, 5), up = ramp(p * RANK, 6);
        float weight = 0.5f, alpha = 4f;
        Path file = dir.resolve("projection.safetensors");
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lora_te2_text_projection.lora_down.weight", new Tensor(down, RANK, d));
        t.put("lora_te2_text_projection.lora_up.weight", new Tensor(up, p, RANK));
        t.put("lora_te2_text_projection.alpha", new Tensor(new float[]{alpha}, 1));
        SafetensorsWriter.write(file, t, DType.F32, Map.of());

        String prompt = "a photo of a cat";
        GenerationRequest req = GenerationRequest.builder(prompt).size(64, 64).steps(1).seed(5).guidanceScale(1f).build();
        Tensor[] plain = run(ModelOptions.of(folder), req), withLora = run(ModelOptions.of(folder).withLora(file, weight), req);
        assertArrayEquals(plain[0].data(), withLora[0].data(), "the context does not pass through the text projection");
        float[] pooled;
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(folder))) {
            var x = sd.components().sdxl();
            pooled = x.textEncoder2().encodeAll(new int[][]{x.tokenizer2().encode(prompt)}, false).pooledOutput().data();
        }
        double scale = (double) weight * alpha / RANK, max = 0;
        for (int o = 0; o < p; o++) {
            double delta = 0;
            for (int r = 0; r < RANK; r++) {
                double h = 0;
                for (int i = 0; i < d; i++) h += (double) pooled[i] * down[r * d + i];
                delta += h * up[o * RANK + r];
            }
            delta *= scale;
            double got = (double) withLora[1].data()[o] - plain[1].data()[o];
            max = Math.max(max, Math.abs(got - delta));
            assertEquals(delta, got, 1e-5 * Math.max(1, Math.abs(delta)), "text_embeds[" + o + "] moved by the LoRA's term");
        }
        assertTrue(max < 1e-5);
        System.out.printf("lora_te2 text_projection: text_embeds moved by the expected term within %.2e over %d values%n", max, p);
    }

    /** [context, text_embeds] of a generation (one prompt, no guidance). */
    private static Tensor[] run(ModelOptions o, GenerationRequest req) {
        Tensor[] seen = new Tensor[2];
        try (StableDiffusion sd = StableDiffusion.load(o)) {
            sd.generate(req, null, null, new StableDiffusion.StepTrace() {
                @Override public void onStep(int i, Tensor in, Tensor out, Tensor latents, Tensor denoised) {}
                @Override public void onEmbeddings(Tensor e) { seen[0] = e; }
                @Override public void onAddedConditioning(Tensor textEmbeds, Tensor timeIds) { seen[1] = textEmbeds; }
            });
        }
        assertNotNull(seen[1], "no added conditioning: not an SDXL run");
        return seen;
    }

    /** after == before + scale x up @ down, element by element (float32 rounding of the sum). */
    private static void expectDelta(String what, float[] before, float[] after, double scale, float[] up, float[] down, int rows, int cols) {
        List<String> bad = new ArrayList<>();
        boolean changed = false;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double delta = 0;
                for (int k = 0; k < RANK; k++) delta += (double) up[r * RANK + k] * down[k * cols + c];
                double want = before[r * cols + c] + scale * delta;
                if (Math.abs(want - after[r * cols + c]) > 1e-6 * Math.max(1, Math.abs(want))) bad.add(r + "," + c);
                changed |= after[r * cols + c] != before[r * cols + c];
            }
        assertTrue(bad.isEmpty(), what + ": " + bad.size() + " elements off the expected W + s up down, e.g. " + bad.subList(0, Math.min(3, bad.size())));
        assertTrue(changed, what + ": unchanged");
    }

    private static float[] ramp(int n, int seed) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (((i + 3 * seed) * 37) % 19 - 9) / 32f;
        return a;
    }
}

package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.sampling.NoiseSource;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind "pipeline": a whole text-to-image run of a tiny pipeline folder with the reference's initial latents
 * and per-step noise; compares the prompt embeddings, the latents after every step, the image in [0,1] and as uint8.
 * The model folder is found by its pipeline class (LCM when the inputs carry a guidance embedding's w); components a
 * folder lacks (the tiny LCM has no text encoder, tokenizer or VAE) come from the set's StableDiffusionPipeline folder.
 */
final class PipelineGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) throws Exception {
        if ("sdxl".equals(info.path("family").asText())) {
            new SdxlPipelineGolden().run(caseDir, info);
            return;
        }
        String name = caseDir.getFileName().toString();
        try (SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"))) {
            boolean lcm = in.contains("guidance_scale_w");
            Path model = modelFolder(info, lcm ? "LatentConsistencyModelPipeline" : "StableDiffusionPipeline");
            Path base = modelFolder(null, "StableDiffusionPipeline");
            ModelOptions opts = ModelOptions.of(model);
            if (!Files.isDirectory(model.resolve("tokenizer"))) opts = opts.withTokenizer(base.resolve("tokenizer"));
            if (!Files.isDirectory(model.resolve("text_encoder"))) opts = opts.withTextEncoder(base.resolve("text_encoder"));
            if (!Files.isDirectory(model.resolve("vae"))) opts = opts.withVae(base.resolve("vae"));
            // pipeline_lcm_lora: a LoRA fused into the U-Net at its scale, and the scheduler the case names.
            if (info.hasNonNull("lora"))
                opts = opts.withLora(Golden.resolve(info.get("lora").get("file").asText()), (float) info.get("lora").path("scale").asDouble(1));

            String task = info.path("task").asText("");
            // Inpainting draws its initial latents from the seed (inputs hold the draws: see PipelineReplayTest).
            Tensor init = in.contains("init_latents") ? Tensor.of(in.get("init_latents")) : null;
            TensorView expLat = exp.get("latents");
            int batch = (int) expLat.dim(1), per = (int) (expLat.numel() / expLat.dim(0));
            int h = info.path("height").asInt(), w = info.path("width").asInt();
            GenerationRequest.Builder rb = GenerationRequest.builder(info.path("prompt").asText())
                    .negativePrompt(info.path("negative_prompt").asText(""))
                    .steps(info.path("steps").asInt())
                    .guidanceScale((float) info.path("guidance_scale").asDouble())
                    .seed(info.path("seed").asLong())
                    .size(w, h)
                    .batch(batch)
                    .eta((float) info.path("eta").asDouble(0));
            rb.sampler(lcm || "LCMScheduler".equals(info.path("scheduler").asText()) ? "lcm" : samplerOf(model));
            // A text-to-image case's "noise" is the sampler's per-step noise; an inpainting case's is its initial noise.
            NoiseSource noise = task.isEmpty() && in.contains("noise") ? replay(Tensor.of(in.get("noise"))) : null;
            List<AutoCloseable> closeLater = new ArrayList<>();
            if (task.equals("controlnet")) {
                dev.jdiffusion.pipeline.ControlNet cn = dev.jdiffusion.pipeline.ControlNet.load(Golden.resolve(info.get("controlnet").asText()));
                closeLater.add(cn);
                Tensor control = Images.read(caseDir.resolve(info.path("control_png").asText()));
                Golden.compare(name + " control image from " + info.path("control_png").asText(), in.get("control_image").toFloatArray(), control.data(), 0);
                rb.control(cn, control, (float) info.path("controlnet_conditioning_scale").asDouble(),
                        (float) info.path("control_guidance_start").asDouble(), (float) info.path("control_guidance_end").asDouble());
            } else if (task.startsWith("inpaint")) {
                Tensor image = Images.read(caseDir.resolve(info.path("init_image_png").asText()));
                Tensor mask = dev.jdiffusion.pipeline.Inpainting.maskFromImage(Images.read(caseDir.resolve(info.path("mask_png").asText())));
                Golden.compare(name + " input_image from PNG", in.get("input_image").toFloatArray(), image.data(), 0);
                Golden.compare(name + " mask_image from PNG", in.get("mask_image").toFloatArray(), mask.data(), 0);
                rb.initImage(image).mask(mask).strength((float) info.path("strength").asDouble()).composite(false);
            } else if (!task.isEmpty()) {
                fail(name + ": pipeline task '" + task + "' is not known to the test");
            }
            java.util.Map<String, Tensor> named = new java.util.HashMap<>();
            List<float[]> inputs = new ArrayList<>(), mids = new ArrayList<>();

            List<float[]> stepLatents = new ArrayList<>(), preds = new ArrayList<>(), denoised = new ArrayList<>();
            Tensor[] emb = new Tensor[1], decodedIn = new Tensor[1];
            try (StableDiffusion sd = StableDiffusion.load(opts)) {
                // The tokenizer must give the reference's ids for the case's prompt(s).
                checkIds(sd, in, info);
                GenerationResult r = sd.generate(rb.build(), init, noise, new StableDiffusion.StepTrace() {
                    @Override public void onStep(int step, Tensor modelInput, Tensor modelOut, Tensor latents, Tensor d) {
                        inputs.add(modelInput.data().clone());
                        while (mids.size() < inputs.size()) mids.add(null);
                        stepLatents.add(latents.data().clone());
                        preds.add(modelOut.data().clone());
                        if (d != null) denoised.add(d.data().clone());
                    }

                    @Override public void onEmbeddings(Tensor e) { emb[0] = e; }

                    @Override public void onTensor(String key, Tensor t) {
                        if (key.equals("mid_block_res_sample")) {
                            while (mids.size() < inputs.size()) mids.add(null);
                            mids.add(t.data().clone());
                        } else named.put(key, new Tensor(t.data().clone(), t.shape()));
                    }

                    @Override public void onDecode(Tensor latents, Tensor images) { decodedIn[0] = latents; }
                });
                double tolLat = GoldenTolerances.exactly(name, "latents");
                Golden.compare(name + " prompt_embeds", exp.get("prompt_embeds").toFloatArray(), emb[0].data(), tolLat);
                float[] lat = expLat.toFloatArray();
                assertEquals(stepLatents.size() + 1, lat.length / per, name + ": number of steps");
                if (!task.isEmpty()) inpaintAndControlTensors(name, exp, named, inputs, mids, tolLat);
                for (int s = 0; s < stepLatents.size(); s++)
                    Golden.compare(name + " latents step " + (s + 1), slice(lat, (s + 1) * per, per), stepLatents.get(s), tolLat);
                String predKey = lcm ? "model_pred" : "noise_pred";
                float[] ep = exp.get(predKey).toFloatArray();
                for (int s = 0; s < preds.size(); s++)
                    Golden.compare(name + " " + predKey + " step " + (s + 1), slice(ep, s * per, per), preds.get(s), tolLat);
                if (exp.contains("denoised"))
                    for (int s = 0; s < denoised.size(); s++)
                        Golden.compare(name + " denoised step " + (s + 1), slice(exp.get("denoised").toFloatArray(), s * per, per), denoised.get(s), tolLat);

                checkImage(name, name, exp.get("image").toFloatArray(), exp.get("image_hwc_uint8"), r.images().get(0));
            } finally {
                for (AutoCloseable c : closeLater) c.close();
            }
        }
    }

    /** The image in [0,1] and as uint8 against the reference, within the case's README bounds. */
    static void checkImage(String label, String name, float[] image, TensorView u8, Tensor mine) {
        float[] ours = mine.data();
        Golden.compare(label + " image [0,1]", image, ours, GoldenTolerances.of(name, "image in [0,1]"));
        int levels = GoldenTolerances.levels(name, "uint8");
        int H = mine.dim(1), W = mine.dim(2);
        int worst = 0, differing = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    int e = (int) u8.getLong(((long) y * W + x) * 3 + c);
                    int o = Images.toByte(ours[(c * H + y) * W + x]);
                    int d = Math.abs(e - o);
                    if (d > 0) differing++;
                    worst = Math.max(worst, d);
                }
        System.out.printf("golden %-48s max %d levels, %d of %d values differ (bound %d)%n", label + " uint8", worst, differing, H * W * 3, levels);
        assertTrue(worst <= levels, label + ": uint8 pixels differ by " + worst + " levels (bound " + levels + ")");
    }

    /** The task's intermediate tensors: inpainting's masks and latents, each step's U-Net input and ControlNet mid residual. */
    private static void inpaintAndControlTensors(String name, SafetensorsFile exp, java.util.Map<String, Tensor> named,
                                                 List<float[]> inputs, List<float[]> mids, double tolLat) {
        for (String k : new String[]{"mask", "mask_condition"})
            if (exp.contains(k)) {
                assertTrue(named.containsKey(k), name + ": the pipeline reported no " + k);
                Golden.compare(name + " " + k, exp.get(k).toFloatArray(), named.get(k).data(), 0);
            }
        for (String k : new String[]{"masked_image_latents", "image_latents"})
            if (exp.contains(k) && named.containsKey(k))
                Golden.compare(name + " " + k, exp.get(k).toFloatArray(), named.get(k).data(), GoldenTolerances.of(name, k));
        if (exp.contains("init_latents")) {
            assertTrue(named.containsKey("init_latents"), name + ": the pipeline reported no init_latents");
            Golden.compare(name + " init_latents", exp.get("init_latents").toFloatArray(), named.get("init_latents").data(), tolLat);
        }
        if (exp.contains("latent_model_input")) {
            float[] e = exp.get("latent_model_input").toFloatArray();
            int per = e.length / inputs.size();
            for (int s = 0; s < inputs.size(); s++)
                Golden.compare(name + " latent_model_input step " + (s + 1), slice(e, s * per, per), inputs.get(s), tolLat);
        }
        if (exp.contains("mid_block_res_sample")) {
            float[] e = exp.get("mid_block_res_sample").toFloatArray(), keep = exp.get("controlnet_keep").toFloatArray();
            int per = e.length / keep.length, compared = 0;
            for (int s = 0; s < keep.length; s++) {
                float[] mine = s < mids.size() ? mids.get(s) : null;
                if (mine == null) {
                    // skipped at scale 0: the reference added exact zeros
                    for (float v : slice(e, s * per, per)) assertTrue(v == 0f, name + ": step " + (s + 1) + " was skipped but the reference's residual is " + v);
                    continue;
                }
                Golden.compare(name + " mid_block_res_sample step " + (s + 1), slice(e, s * per, per), mine, tolLat);
                compared++;
            }
            assertTrue(compared > 0, name + ": no ControlNet step ran");
        }
    }

    private static void checkIds(StableDiffusion sd, SafetensorsFile in, JsonNode info) {
        int[] ids = sd.components().tokenizer().encode(info.path("prompt").asText());
        long[] exp = in.get("prompt_input_ids").toLongArray();
        long[] ours = new long[ids.length];
        for (int i = 0; i < ids.length; i++) ours[i] = ids[i];
        Golden.compareExact("pipeline prompt ids", java.util.Arrays.copyOf(exp, Math.min(exp.length, ours.length)), ours);
    }

    static String samplerOf(Path model) throws IOException {
        JsonNode sc = Golden.json(model.resolve("scheduler").resolve("scheduler_config.json"));
        return switch (sc.path("_class_name").asText()) {
            case "DDIMScheduler" -> "ddim";
            case "LCMScheduler" -> "lcm";
            case "EulerDiscreteScheduler" -> "euler";
            case "EulerAncestralDiscreteScheduler" -> "euler_a";
            case "DPMSolverMultistepScheduler" -> sc.path("use_karras_sigmas").asBoolean() ? "dpmpp_2m_karras" : "dpmpp_2m";
            default -> throw new IllegalStateException("unknown scheduler " + sc.path("_class_name").asText());
        };
    }

    /** The golden model folder named by info.json's "model", else the one whose model_index.json has the class. */
    static Path modelFolder(JsonNode info, String pipelineClass) throws IOException {
        if (info != null && info.hasNonNull("model")) return Golden.resolve(info.get("model").asText());
        try (Stream<Path> s = Files.list(Golden.dir().resolve("models"))) {
            for (Path d : s.sorted().toList()) {
                Path idx = d.resolve("model_index.json");
                if (Files.isRegularFile(idx) && pipelineClass.equals(Golden.json(idx).path("_class_name").asText())) return d;
            }
        }
        fail("no golden model folder with pipeline class " + pipelineClass);
        return null;
    }

    static float[] slice(float[] a, int off, int n) {
        float[] r = new float[n];
        System.arraycopy(a, off, r, 0, n);
        return r;
    }

    /** Replays the reference's per-step noise tensors in order. */
    static NoiseSource replay(Tensor noise) {
        int per = noise.numel() / noise.dim(0);
        int[] next = {0};
        return shape -> {
            if (next[0] >= noise.dim(0)) fail("sampler asked for more noise draws than the reference made (" + noise.dim(0) + ")");
            float[] d = slice(noise.data(), next[0]++ * per, per);
            return new Tensor(d, shape);
        };
    }
}

package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.sampling.NoiseSource;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden kind "pipeline" for SDXL cases ({@code "family": "sdxl"}): the whole StableDiffusionXLPipeline run with the
 * reference's initial noise (and per-step noise for Euler ancestral); compares the prompt embeddings, the pooled
 * embeddings and add_time_ids the U-Net sees, every step's latents, noise_pred and pred_original_sample, the image in
 * [0,1] and as uint8. A case with {@code subcases} (SDXL-Turbo) runs each with its own steps, seed and sizes (keys
 * {@code <sub>.<name>}); a pipeline folder with only its scheduler takes the other parts from the set's SDXL folder.
 */
final class SdxlPipelineGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) throws Exception {
        check(caseDir, info, null);
    }

    /** The folder whose weights the case's pipeline uses: its model folder, else (a folder of only a scheduler) the set's SDXL folder. */
    static Path weightsFolder(JsonNode info) throws IOException {
        Path model = PipelineGolden.modelFolder(info, "StableDiffusionXLPipeline");
        return Files.isDirectory(model.resolve("unet")) ? model : PipelineGolden.modelFolder(null, "StableDiffusionXLPipeline");
    }

    /**
     * Runs the case with every weight from {@code singleFile} (null: the folders), the folder supplying configs,
     * tokenizers and scheduler; returns the final images (one per sub-case).
     */
    static List<float[]> check(Path caseDir, JsonNode info, Path singleFile) throws Exception {
        String name = caseDir.getFileName().toString();
        List<float[]> images = new ArrayList<>();
        try (SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"))) {
            Path model = PipelineGolden.modelFolder(info, "StableDiffusionXLPipeline");
            Path base = PipelineGolden.modelFolder(null, "StableDiffusionXLPipeline");
            // A pipeline folder holding only its scheduler (SDXL-Turbo): the other parts are the base folder's.
            Path linked = Files.isDirectory(model.resolve("unet")) ? null : withParts(model, base);
            Path folder = linked != null ? linked : model;
            ModelOptions opts = singleFile == null ? ModelOptions.of(folder) : ModelOptions.of(singleFile).withConfig(folder);
            String label = singleFile == null ? name : name + " from " + singleFile.getFileName();
            try {
                if (info.has("subcases")) {
                    int n = 0;
                    for (JsonNode sub : info.get("subcases")) {
                        images.add(run(name, label, sub.get("name").asText() + ".", info, sub, in, exp, opts, folder));
                        n++;
                    }
                    assertTrue(n > 0, name + ": no sub-cases");
                } else {
                    images.add(run(name, label, "", info, info, in, exp, opts, folder));
                }
            } finally {
                if (linked != null) deleteLinks(linked);
            }
        }
        return images;
    }

    /**
     * One run: settings from sub (steps, seed, sizes) falling back to info; keys prefixed with p; the sampler from the
     * folder's scheduler config. Returns the image.
     */
    private static float[] run(String name, String runLabel, String p, JsonNode info, JsonNode sub, SafetensorsFile in, SafetensorsFile exp,
                               ModelOptions opts, Path folder) throws Exception {
        String label = runLabel + (p.isEmpty() ? "" : " " + p.substring(0, p.length() - 1));
        // Initial latents before the sampler's init_noise_sigma (init_noise where the set gives it).
        Tensor init = Tensor.of(in.get(p + (in.contains(p + "init_noise") ? "init_noise" : "init_latents")));
        int h = sub.path("height").asInt(info.path("height").asInt()), w = sub.path("width").asInt(info.path("width").asInt());
        GenerationRequest.Builder rb = GenerationRequest.builder(info.path("prompt").asText())
                .negativePrompt(info.path("negative_prompt").asText(""))
                .steps(sub.path("steps").asInt(info.path("steps").asInt()))
                .guidanceScale((float) info.path("guidance_scale").asDouble())
                .seed(sub.path("seed").asLong(info.path("seed").asLong()))
                .size(w, h)
                .batch(init.dim(0))
                .eta((float) info.path("eta").asDouble(0));
        if (sub.has("original_size")) rb.sdxlOriginalSize(sub.get("original_size").get(0).asInt(), sub.get("original_size").get(1).asInt());
        if (sub.has("crops_coords_top_left"))
            rb.sdxlCropTopLeft(sub.get("crops_coords_top_left").get(0).asInt(), sub.get("crops_coords_top_left").get(1).asInt());
        if (sub.has("target_size"))
            assertTrue(sub.get("target_size").get(0).asInt() == h && sub.get("target_size").get(1).asInt() == w,
                    label + ": a target size other than the output size is not a request option");
        rb.sampler(PipelineGolden.samplerOf(folder));
        NoiseSource noise = in.contains(p + "noise") ? PipelineGolden.replay(Tensor.of(in.get(p + "noise"))) : null;

        List<float[]> stepLatents = new ArrayList<>(), preds = new ArrayList<>(), denoised = new ArrayList<>();
        Tensor[] emb = new Tensor[1], added = new Tensor[2];
        try (StableDiffusion sd = StableDiffusion.load(opts)) {
            // The tokenizer(s) must give the reference's ids for the case's prompt(s).
            checkIds(sd, in, info, p);
            GenerationResult r = sd.generate(rb.build(), init, noise, new StableDiffusion.StepTrace() {
                @Override public void onStep(int step, Tensor modelInput, Tensor modelOut, Tensor latents, Tensor d) {
                    stepLatents.add(latents.data().clone());
                    preds.add(modelOut.data().clone());
                    if (d != null) denoised.add(d.data().clone());
                }

                @Override public void onEmbeddings(Tensor e) { emb[0] = e; }

                @Override public void onAddedConditioning(Tensor textEmbeds, Tensor timeIds) {
                    added[0] = textEmbeds;
                    added[1] = timeIds;
                }
            });
            double tolLat = GoldenTolerances.of(name, "latents");
            double tolEmb = exp.contains(p + "pooled_prompt_embeds") ? GoldenTolerances.of(name, "prompt_embeds") : tolLat;
            Golden.compare(label + " prompt_embeds", exp.get(p + "prompt_embeds").toFloatArray(), emb[0].data(), tolEmb);
            if (exp.contains(p + "pooled_prompt_embeds")) {
                assertTrue(added[0] != null, label + ": the pipeline passed no added conditioning to the U-Net");
                Golden.compare(label + " pooled_prompt_embeds", exp.get(p + "pooled_prompt_embeds").toFloatArray(), added[0].data(), tolEmb);
                Golden.compare(label + " add_time_ids", exp.get(p + "add_time_ids").toFloatArray(), added[1].data(), 0);
            }
            float[] lat = exp.get(p + "latents").toFloatArray();
            int per = init.numel();
            assertEquals(stepLatents.size() + 1, lat.length / per, label + ": number of steps");
            for (int s = 0; s < stepLatents.size(); s++)
                Golden.compare(label + " latents step " + (s + 1), PipelineGolden.slice(lat, (s + 1) * per, per), stepLatents.get(s), tolLat);
            String predKey = "noise_pred";
            float[] ep = exp.get(p + predKey).toFloatArray();
            for (int s = 0; s < preds.size(); s++)
                Golden.compare(label + " " + predKey + " step " + (s + 1), PipelineGolden.slice(ep, s * per, per), preds.get(s), tolLat);
            String denKey = exp.contains(p + "denoised") ? "denoised" : exp.contains(p + "pred_original_sample") ? "pred_original_sample" : null;
            if (denKey != null) {
                float[] ed = exp.get(p + denKey).toFloatArray();
                for (int s = 0; s < denoised.size(); s++)
                    Golden.compare(label + " " + denKey + " step " + (s + 1), PipelineGolden.slice(ed, s * per, per), denoised.get(s), tolLat);
            }

            PipelineGolden.checkImage(label, name, exp.get(p + "image").toFloatArray(), exp.get(p + "image_hwc_uint8"), r.images().get(0));
            return r.images().get(0).data();
        }
    }

    /** A temporary folder with the model's own files and, linked, every part it lacks from base. */
    static Path withParts(Path model, Path base) throws IOException {
        Path dir = Files.createTempDirectory("golden-pipeline-");
        try (Stream<Path> s = Files.list(model)) {
            for (Path f : s.toList()) Files.createSymbolicLink(dir.resolve(f.getFileName().toString()), f.toAbsolutePath());
        }
        try (Stream<Path> s = Files.list(base)) {
            for (Path f : s.toList())
                if (Files.isDirectory(f) && !Files.exists(dir.resolve(f.getFileName().toString())))
                    Files.createSymbolicLink(dir.resolve(f.getFileName().toString()), f.toAbsolutePath());
        }
        return dir;
    }

    static void deleteLinks(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.toList()) Files.delete(f);
        }
        Files.delete(dir);
    }

    private static void checkIds(StableDiffusion sd, SafetensorsFile in, JsonNode info, String p) {
        compareIds(p + "prompt ids", sd.components().tokenizer().encode(info.path("prompt").asText()), in.get(p + "prompt_input_ids").toLongArray());
        if (in.contains(p + "prompt_input_ids_2"))
            compareIds(p + "prompt ids (tokenizer 2)", sd.components().sdxl().tokenizer2().encode(info.path("prompt").asText()),
                    in.get(p + "prompt_input_ids_2").toLongArray());
    }

    private static void compareIds(String label, int[] ids, long[] exp) {
        long[] ours = new long[ids.length];
        for (int i = 0; i < ids.length; i++) ours[i] = ids[i];
        Golden.compareExact("pipeline " + label, java.util.Arrays.copyOf(exp, Math.min(exp.length, ours.length)), ours);
    }

}

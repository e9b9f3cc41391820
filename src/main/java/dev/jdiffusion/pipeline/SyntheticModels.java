package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.model.clip.ClipTextConfig;
import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.model.vae.AutoencoderKL;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SyntheticWeights;
import dev.jdiffusion.weights.SyntheticWeights.TensorSpec;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Full-size synthetic models made from their configs alone ({@link SyntheticWeights.Kind}s without a manifest, such
 * as SDXL): the tensors of each component are the ones the engine's loaders require for its config (the U-Net's
 * from building {@link UNet2DConditionModel} over no weights, the text encoders' and VAE's from
 * {@link ClipTextEncoder#tensorShapes} and {@link AutoencoderKL#tensorShapes}), written with
 * {@link SyntheticWeights}' values; tokenizer folders get the bundled CLIP vocabulary. Kinds with a manifest (SD 1.5)
 * are written from it.
 */
public final class SyntheticModels {
    private SyntheticModels() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The weight files of a diffusers folder with these configs (relative path to content, model_index.json among
     * them), each with its tensors: {@code unet/diffusion_pytorch_model.safetensors}, {@code vae/...},
     * {@code text_encoder/model.safetensors} (with transformers' int64 {@code position_ids}) and so on for every
     * component model_index.json names. Floating tensors are F16, as the released files.
     *
     * @param configs the folder's JSON files by relative path ({@code model_index.json}, {@code unet/config.json}, ...)
     * @return each weight file's relative path with its tensors, in model_index.json's component order
     * @throws ModelFormatException if a config is missing or names a component class synthetic models do not make
     */
    public static Map<String, List<TensorSpec>> diffusersTensors(Map<String, String> configs) {
        Map<String, List<TensorSpec>> out = new LinkedHashMap<>();
        JsonNode index = json(configs, "model_index.json");
        for (Iterator<Map.Entry<String, JsonNode>> it = index.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (e.getKey().startsWith("_") || !v.isArray() || v.size() != 2 || v.get(1).isNull()) continue;
            String c = e.getKey(), cls = v.get(1).asText();
            switch (cls) {
                case "UNet2DConditionModel" -> out.put(c + "/diffusion_pytorch_model.safetensors",
                        specs(UNet2DConditionModel.tensorShapes(UNetConfig.fromJson(json(configs, c + "/config.json"))), null));
                case "AutoencoderKL" -> {
                    JsonNode vc = json(configs, c + "/config.json");
                    out.put(c + "/diffusion_pytorch_model.safetensors", specs(AutoencoderKL.tensorShapes(vc.path("in_channels").asInt(3),
                            vc.path("out_channels").asInt(3), vc.path("latent_channels").asInt(4), ints(vc.get("block_out_channels"), c),
                            vc.path("layers_per_block").asInt(2)), null));
                }
                case "CLIPTextModel", "CLIPTextModelWithProjection" -> {
                    JsonNode tc = json(configs, c + "/config.json");
                    ClipTextConfig cfg = ClipTextConfig.fromJson(tc, c + "/config.json");
                    int proj = cls.equals("CLIPTextModelWithProjection") ? tc.path("projection_dim").asInt(cfg.hiddenSize()) : 0;
                    out.put(c + "/model.safetensors", specs(ClipTextEncoder.tensorShapes(cfg, proj),
                            new TensorSpec("text_model.embeddings.position_ids", DType.I64, new long[]{1, cfg.maxPositions()})));
                }
                case "CLIPTokenizer", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "PNDMScheduler", "DDIMScheduler",
                     "LCMScheduler", "DPMSolverMultistepScheduler" -> { /* no weights */ }
                default -> throw new ModelFormatException("model_index.json: component " + c + " is a " + cls + ", which synthetic models do not make");
            }
        }
        return out;
    }

    private static List<TensorSpec> specs(Map<String, long[]> shapes, TensorSpec extra) {
        List<TensorSpec> l = new ArrayList<>();
        if (extra != null) l.add(extra);
        shapes.forEach((n, s) -> l.add(new TensorSpec(n, DType.F16, s)));
        return l;
    }

    /**
     * The kind's tensors: its bundled manifest, else from its configs ({@link #diffusersTensors}).
     *
     * @param kind a synthetic model kind (one of {@code SyntheticWeights.KINDS})
     * @return each weight file's relative path with its tensors
     */
    public static Map<String, List<TensorSpec>> tensors(SyntheticWeights.Kind kind) {
        if (kind.diffusersManifest() == null) return diffusersTensors(kind.configs());
        Map<String, List<TensorSpec>> files = SyntheticWeights.bundledManifest(kind.diffusersManifest());
        if (kind.verify() != null) kind.verify().accept(files, "manifest " + kind.diffusersManifest());
        return files;
    }

    /**
     * The synthetic model folder {@code synthetic-NAME} under weightsDir, generated (fp16, this seed) unless a complete
     * one is there ({@code model_index.json} is written last). A weight file with the same tensors as a complete
     * sibling kind's (SDXL-Turbo's U-Net is SDXL's) is hard-linked to it rather than written again.
     *
     * @param kind the synthetic model kind
     * @param weightsDir the folder that holds the {@code synthetic-*} folders
     * @param seed the seed of the random weights
     * @param log where progress lines go
     * @return the model folder
     */
    public static Path ensure(SyntheticWeights.Kind kind, Path weightsDir, long seed, PrintStream log) {
        Path dir = weightsDir.resolve("synthetic-" + kind.name());
        if (Files.isRegularFile(dir.resolve("model_index.json"))) return dir;
        if (kind.diffusersManifest() != null) return SyntheticWeights.ensure(kind, dir, SyntheticWeights.tokenizerSource(), seed, log);
        log.println("generating full-size synthetic " + kind.name() + " weights (fp16) in " + dir + " ...");
        Map<String, List<TensorSpec>> files = tensors(kind);
        Map<String, Path> linked = new HashMap<>();
        for (SyntheticWeights.Kind other : SyntheticWeights.KINDS.values()) {
            Path od = weightsDir.resolve("synthetic-" + other.name());
            if (other == kind || other.diffusersManifest() != null || !Files.isRegularFile(od.resolve("model_index.json"))) continue;
            Map<String, List<TensorSpec>> theirs = tensors(other);
            files.forEach((f, specs) -> {
                if (sameSpecs(specs, theirs.get(f)) && Files.isRegularFile(od.resolve(f))) linked.putIfAbsent(f, od.resolve(f));
            });
        }
        Path tok = null;
        try {
            tok = Files.createTempDirectory("jdiffusion-tokenizer");
            ClipTokenizer.writeBundledVocabulary(tok);
            SyntheticWeights.writeFolder(files, kind.configs(), dir, tok, linked, DType.F16, seed, log);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        } finally {
            if (tok != null) {
                for (String n : new String[]{"vocab.json", "merges.txt"}) tok.resolve(n).toFile().delete();
                tok.toFile().delete();
            }
        }
        return dir;
    }

    static boolean sameSpecs(List<TensorSpec> a, List<TensorSpec> b) {
        if (a == null || b == null || a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            TensorSpec x = a.get(i), y = b.get(i);
            if (!x.name().equals(y.name()) || x.dtype() != y.dtype() || !Arrays.equals(x.shape(), y.shape())) return false;
        }
        return true;
    }

    private static JsonNode json(Map<String, String> configs, String file) {
        String s = configs.get(file);
        if (s == null) throw new ModelFormatException("synthetic model: no " + file + " among its configs");
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }

    private static int[] ints(JsonNode a, String where) {
        if (a == null || !a.isArray() || a.isEmpty()) throw new ModelFormatException(where + "/config.json: block_out_channels must be a list");
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
        return v;
    }
}

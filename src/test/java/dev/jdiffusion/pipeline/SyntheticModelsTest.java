package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.SyntheticWeights;
import dev.jdiffusion.weights.SyntheticWeights.TensorSpec;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Synthetic models made from configs ({@link SyntheticModels}): the tensor lists are exactly what real files of the
 * same configs hold (every diffusers component of the golden models, and SD 1.5's full-size manifest), and a scaled
 * down SDXL written from the bundled SDXL configs loads through the ordinary diffusers-folder path as SDXL (and
 * SDXL-Turbo) and generates a finite image.
 */
class SyntheticModelsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir Path dir;

    /** Floating tensors of a file: name to shape (buffers such as position_ids are not weights). */
    private static Map<String, List<Long>> floating(Path file) {
        Map<String, List<Long>> m = new TreeMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String n : f.names()) {
                TensorView t = f.get(n);
                if (t.dtype().isFloating()) m.put(n, Arrays.stream(t.shape()).boxed().toList());
            }
        }
        return m;
    }

    private static Map<String, List<Long>> floating(List<TensorSpec> specs) {
        Map<String, List<Long>> m = new TreeMap<>();
        for (TensorSpec s : specs) if (s.dtype().isFloating()) m.put(s.name(), Arrays.stream(s.shape()).boxed().toList());
        return m;
    }

    /** The model_index entry a component config stands for, or null when synthetic models do not make it. */
    private static String[] entry(JsonNode cfg) {
        String cls = cfg.path("_class_name").asText(cfg.path("architectures").path(0).asText(""));
        return switch (cls) {
            case "UNet2DConditionModel", "AutoencoderKL" -> new String[]{"diffusers", cls};
            case "CLIPTextModel", "CLIPTextModelWithProjection" -> new String[]{"transformers", cls};
            default -> null;
        };
    }

    /**
     * Every component folder of the golden models (a config.json beside its weights: U-Nets with and without SDXL's
     * added conditioning, LCM's and inpainting's, VAEs, CLIP encoders with and without projection): the tensors
     * made from its config alone are the file's, name for name and shape for shape.
     */
    @Test void tensorsFromConfigsAreThoseOfEveryGoldenComponent() throws IOException {
        List<Path> configs;
        try (Stream<Path> s = Files.walk(Golden.resolve("models"))) {
            configs = s.filter(p -> p.getFileName().toString().equals("config.json")).sorted().toList();
        }
        Map<String, Integer> compared = new TreeMap<>();
        for (Path cfgFile : configs) {
            JsonNode cfg = Golden.json(cfgFile);
            String[] e = entry(cfg);
            if (e == null) continue;
            ObjectNode index = JSON.createObjectNode();
            index.putArray("part").add(e[0]).add(e[1]);
            Map<String, String> files = Map.of("model_index.json", index.toString(), "part/config.json", Files.readString(cfgFile));
            Map<String, List<TensorSpec>> made = SyntheticModels.diffusersTensors(files);
            assertEquals(1, made.size(), cfgFile.toString());
            var only = made.entrySet().iterator().next();
            Path weights = cfgFile.resolveSibling(only.getKey().substring("part/".length()));
            if (!Files.isRegularFile(weights)) continue; // a config without its weights (they live elsewhere)
            Map<String, List<Long>> want = floating(weights), got = floating(only.getValue());
            assertEquals(new TreeSet<>(want.keySet()), new TreeSet<>(got.keySet()), cfgFile + ": tensor names");
            assertEquals(want, got, cfgFile + ": tensor shapes");
            compared.merge(e[1] + (cfg.path("addition_embed_type").asText().equals("text_time") ? " (text_time)" : ""), 1, Integer::sum);
            System.out.printf("synthetic tensors from %s: %d tensors, the same as %s%n", Golden.dir().relativize(cfgFile), got.size(),
                    weights.getFileName());
        }
        System.out.println("components compared: " + compared);
        for (String k : new String[]{"UNet2DConditionModel (text_time)", "AutoencoderKL", "CLIPTextModel", "CLIPTextModelWithProjection"})
            assertTrue(compared.containsKey(k), "no golden component of kind " + k + " was compared: " + compared);
    }

    /** SD 1.5's configs give its full-size manifest (taken from the released files), tensor for tensor. */
    @Test void sd15ConfigsGiveTheSd15Manifest() {
        SyntheticWeights.Kind sd15 = SyntheticWeights.kind("sd15");
        Map<String, List<TensorSpec>> want = SyntheticWeights.bundledManifest(sd15.diffusersManifest());
        Map<String, List<TensorSpec>> got = SyntheticModels.diffusersTensors(sd15.configs());
        assertEquals(new TreeSet<>(want.keySet()), new TreeSet<>(got.keySet()));
        for (String f : want.keySet()) {
            assertEquals(floating(want.get(f)), floating(got.get(f)), f);
            for (TensorSpec t : got.get(f)) assertEquals(t.dtype().isFloating() ? DType.F16 : DType.I64, t.dtype(), t.name());
        }
    }

    /** The full-size SDXL kinds: every weight file of SDXL base 1.0, fp16; Turbo's the same tensors (its U-Net differs in config only). */
    @Test void fullSizeSdxlTensors() {
        Map<String, List<TensorSpec>> xl = SyntheticModels.tensors(SyntheticWeights.kind("sdxl"));
        assertEquals(new TreeSet<>(List.of("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                "text_encoder/model.safetensors", "text_encoder_2/model.safetensors")), new TreeSet<>(xl.keySet()));
        Map<String, Long> params = new LinkedHashMap<>();
        xl.forEach((f, specs) -> params.put(f, specs.stream().filter(s -> s.dtype().isFloating())
                .mapToLong(s -> Arrays.stream(s.shape()).reduce(1, Math::multiplyExact)).sum()));
        System.out.println("synthetic SDXL parameters: " + params);
        // SDXL base 1.0 as diffusers counts it (num_parameters): U-Net 2,567,463,684; CLIP ViT-L 123,060,480;
        // OpenCLIP bigG with projection 694,659,840; VAE 83,653,863.
        assertEquals(2_567_463_684L, params.get("unet/diffusion_pytorch_model.safetensors"));
        assertEquals(123_060_480L, params.get("text_encoder/model.safetensors"));
        assertEquals(694_659_840L, params.get("text_encoder_2/model.safetensors"));
        assertEquals(83_653_863L, params.get("vae/diffusion_pytorch_model.safetensors"));
        Map<String, List<TensorSpec>> turbo = SyntheticModels.tensors(SyntheticWeights.kind("sdxl-turbo"));
        assertEquals(xl.keySet(), turbo.keySet());
        for (String f : xl.keySet()) assertTrue(SyntheticModels.sameSpecs(xl.get(f), turbo.get(f)), f);
    }

    /** The bundled SDXL configs with every size scaled down (structure kept: 3 levels, 1/2/N transformer depths, text_time). */
    private static Map<String, String> scaledDown(SyntheticWeights.Kind kind) throws IOException {
        Map<String, String> c = new LinkedHashMap<>(kind.configs());
        ObjectNode u = (ObjectNode) JSON.readTree(c.get("unet/config.json"));
        u.putArray("block_out_channels").add(16).add(24).add(32);
        u.putArray("attention_head_dim").add(1).add(2).add(2);
        u.putArray("transformer_layers_per_block").add(1).add(2).add(3);
        u.put("norm_num_groups", 8).put("cross_attention_dim", 16 + 24).put("addition_time_embed_dim", 8)
                .put("projection_class_embeddings_input_dim", 24 + 6 * 8);
        c.put("unet/config.json", u.toString());
        ObjectNode v = (ObjectNode) JSON.readTree(c.get("vae/config.json"));
        v.putArray("block_out_channels").add(8).add(16).add(16).add(16);
        v.put("norm_num_groups", 4);
        c.put("vae/config.json", v.toString());
        ObjectNode t1 = (ObjectNode) JSON.readTree(c.get("text_encoder/config.json"));
        t1.put("hidden_size", 16).put("intermediate_size", 32).put("num_hidden_layers", 2).put("num_attention_heads", 2);
        c.put("text_encoder/config.json", t1.toString());
        ObjectNode t2 = (ObjectNode) JSON.readTree(c.get("text_encoder_2/config.json"));
        t2.put("hidden_size", 24).put("intermediate_size", 48).put("num_hidden_layers", 3).put("num_attention_heads", 2).put("projection_dim", 24);
        c.put("text_encoder_2/config.json", t2.toString());
        return c;
    }

    /**
     * SDXL and SDXL-Turbo written from the bundled configs (scaled down) load through the ordinary diffusers-folder
     * path, are detected as their families (defaults from them), and generate finite images from the synthetic values.
     */
    @Test void scaledDownSdxlLoadsAsSdxlAndGenerates() throws IOException {
        Path tok = Files.createDirectories(dir.resolve("tok"));
        ClipTokenizer.writeBundledVocabulary(tok);
        for (String name : new String[]{"sdxl", "sdxl-turbo"}) {
            SyntheticWeights.Kind kind = SyntheticWeights.kind(name);
            Map<String, String> configs = scaledDown(kind);
            Map<String, List<TensorSpec>> files = SyntheticModels.diffusersTensors(configs);
            Path model = dir.resolve(name);
            SyntheticWeights.writeFolder(files, configs, model, tok, Map.of(), DType.F16, 5, new PrintStream(new ByteArrayOutputStream()));
            for (String t : new String[]{"tokenizer", "tokenizer_2"})
                for (String f : new String[]{"vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"})
                    assertTrue(Files.isRegularFile(model.resolve(t).resolve(f)), name + ": " + t + "/" + f);
            try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(model))) {
                ModelFamily want = name.equals("sdxl") ? ModelFamily.SDXL : ModelFamily.SDXL_TURBO;
                assertEquals(want, sd.family(), name);
                ModelComponents parts = sd.components();
                assertTrue(Arrays.equals(ClipTokenizer.bundled().encode("a cat on a mat"), parts.tokenizer().encode("a cat on a mat")), name);
                assertTrue(Arrays.equals(ClipTokenizer.bundled("!").encode("a cat on a mat"), parts.sdxl().tokenizer2().encode("a cat on a mat")), name);
                GenerationResult r = sd.generate(GenerationRequest.builder("a cat on a mat").size(64, 64).steps(2).seed(3).build());
                Tensor img = r.images().get(0);
                TinyModels.assertImages(r.images(), 1, 64, 64);
                long inside = 0;
                for (float x : img.data()) if (x > 0.001f && x < 0.999f) inside++;
                System.out.printf("%s scaled down: %s, %.0f%% of the pixel values inside (0, 1)%n", name, sd.family(), 100.0 * inside / img.numel());
                assertTrue(inside > img.numel() / 2, name + ": the image is saturated: the synthetic values blow activations up");
            }
        }
    }
}

package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs {@code jdiffusion info} in-process. */
class InfoCommandTest {
    @TempDir Path dir;

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    private static Path model(String name) { return Golden.dir().resolve("models").resolve(name); }

    @Test void diffusersFolder() {
        Result r = run("info", model("tiny-sd1").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("layout:     diffusers folder"), r.out());
        assertTrue(r.out().contains("family:     SD 1.x"), r.out());
        assertTrue(r.out().contains("missing:    none"), r.out());
        assertTrue(r.out().contains("unet/diffusion_pytorch_model.safetensors"), r.out());
        assertTrue(r.out().contains("text_encoder/model.safetensors"), r.out());
        assertTrue(r.out().contains("precision:  F32"), r.out());
        assertTrue(r.out().matches("(?s).*parameters: [0-9,]+\\n.*"), r.out());
    }

    @Test void lcmFolderWithMissingComponents() {
        Result r = run("info", model("tiny-lcm").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("family:     LCM"), r.out());
        assertTrue(r.out().contains("time_cond_proj_dim"), r.out());
        assertTrue(r.out().contains("missing:    vae, text_encoder\n"), r.out());
        assertTrue(r.out().contains("tokenizer     none: the bundled CLIP vocabulary is used"), r.out());
    }

    @Test void singleFileCheckpoint() {
        Result r = run("info", model("tiny-sd1.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("tensors:"), r.out());
        assertTrue(r.out().contains("single-file checkpoint"), r.out());
        assertTrue(r.out().contains("model.diffusion_model.*"), r.out());
        assertTrue(r.out().contains("family:     SD 1.x"), r.out());
        assertTrue(r.out().contains("bundled CLIP vocabulary"), r.out());
    }

    /**
     * An SDXL single file (SGM layout; found through the golden single_file case of family sdxl) is named SDXL from its
     * keys alone, with both text encoders under their SGM prefixes; an SD 1.x file lists no second encoder as missing.
     */
    @Test void sdxlSingleFileIsNamedSdxl() {
        Path file = null;
        for (Path c : Golden.caseDirs()) {
            var info = Golden.json(c.resolve("info.json"));
            if (info.path("kind").asText().equals("single_file") && info.path("family").asText().equals("sdxl")) file = Golden.resolve(info.get("file").asText());
        }
        assertTrue(file != null, "no single_file golden case of family sdxl");
        Result r = run("info", file.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("family:     SDXL ("), r.out());
        assertTrue(r.out().contains("addition_embed_type text_time"), r.out());
        assertTrue(r.out().contains("conditioner.embedders.0.transformer.*"), r.out());
        assertTrue(r.out().contains("conditioner.embedders.1.model.*"), r.out());
        assertTrue(r.out().contains("missing:    none"), r.out());
        assertFalse(r.out().contains("(not used)"), r.out());
        assertTrue(run("info", model("tiny-sd1.safetensors").toString()).out().contains("missing:    none"));
    }

    /** A single file whose metadata says v-prediction: info prints the choice and why; the plain file prints none. */
    @Test void singleFilePredictionFromMetadata() {
        assertFalse(run("info", model("tiny-sd1.safetensors").toString()).out().contains("prediction:"));
        Map<String, Tensor> t = new java.util.LinkedHashMap<>();
        try (var sf = dev.jdiffusion.weights.SafetensorsFile.open(model("tiny-sd1.safetensors"))) {
            for (String n : new java.util.TreeSet<>(sf.names())) t.put(n, Tensor.of(sf.get(n)));
        }
        Path f = dir.resolve("v.safetensors");
        SafetensorsWriter.write(f, t, DType.F32, Map.of("parameterization", "v"));
        Result r = run("info", f.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("prediction: v (metadata parameterization=v"), r.out());
    }

    @Test void versionNamesTheJdkAndVectorWidth() {
        Result r = run("--version");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(3, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("jdiffusion "), r.out());
        assertTrue(lines.get(1).startsWith("JDK " + Runtime.version()), r.out());
        assertTrue(lines.get(2).startsWith("vectors " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit"), r.out());
    }

    @Test void taesdFolder() {
        Result r = run("info", model("taesd").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("kind:       tiny autoencoder (TAESD family)"), r.out());
        assertTrue(r.out().contains("latents:    4 channels, 1/8"), r.out());
        assertTrue(r.out().contains("parts:      encoder, decoder"), r.out());
        assertTrue(r.out().contains("taesd_decoder.safetensors") && r.out().contains("params"), r.out());
    }

    @Test void componentFolder() {
        Result r = run("info", model("tiny-sd2-unet").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("UNet2DConditionModel"), r.out());
        assertTrue(r.out().contains("use_linear_projection true"), r.out());
        Result h = run("info", model("tiny-sd2-unet-fp16").toString());
        assertTrue(h.out().contains("precision:  F16"), h.out());
        Result b = run("info", model("tiny-sd2-unet-bf16").toString());
        assertTrue(b.out().contains("precision:  BF16"), b.out());
    }

    @Test void anySafetensorsFileWithMetadata() {
        Path p = dir.resolve("x.safetensors");
        SafetensorsWriter.write(p, Map.of("a", new Tensor(new float[]{1, 2, 3, 4}, 2, 2)), DType.F16, Map.of("format", "pt"));
        Result r = run("info", p.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("tensors:    1"), r.out());
        assertTrue(r.out().contains("F16=4"), r.out());
        assertTrue(r.out().contains("format = pt"), r.out());
    }

    private static void oneLineFailure(Result r, Path p, String fragment) {
        assertEquals(1, r.code(), r.out() + r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line: " + err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), "no stack trace: " + err);
        assertTrue(err.contains(p.toString()) && err.contains(fragment), err);
    }

    @Test void malformedFileIsOneLine() throws IOException {
        Path t = Files.write(dir.resolve("trunc.safetensors"), new byte[]{1, 2, 3});
        oneLineFailure(run("info", t.toString()), t, "truncated");
        Path j = Files.write(dir.resolve("json.safetensors"), new byte[]{4, 0, 0, 0, 0, 0, 0, 0, '{', 'x', ':', '}'});
        oneLineFailure(run("info", j.toString()), j, "not valid JSON");
        Path pk = Files.write(dir.resolve("m.ckpt"), new byte[]{(byte) 0x80, 2, 0, 0, 0, 0, 0, 0, 0, 0});
        oneLineFailure(run("info", pk.toString()), pk, "pickle");
    }

    @Test void brokenFolder() throws IOException {
        Path m = dir.resolve("m");
        Files.createDirectories(m.resolve("unet"));
        Files.writeString(m.resolve("model_index.json"), "{}");
        Files.writeString(m.resolve("unet/config.json"), "{broken");
        Path w = m.resolve("unet/diffusion_pytorch_model.safetensors");
        Files.write(w, new byte[]{100, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        Result r = run("info", m.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertFalse(r.err().strip().contains("\n"), r.err());
        assertTrue(r.err().contains("unet"), r.err());
    }

    @Test void usageErrors() {
        assertEquals(2, run("info").code());
        assertEquals(2, run("info", "a", "b").code());
        Result r = run("info", dir.resolve("none").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no such file"), r.err());
        assertEquals(0, run("info", "--help").code());
    }

    @Test void modelIndexPathMeansItsFolder() {
        Result r = run("info", model("tiny-sd1").resolve("model_index.json").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("layout:     diffusers folder"), r.out());
    }

    @Test void shardedIndexFile() throws IOException {
        SafetensorsWriter.write(dir.resolve("a.safetensors"), Map.of("x", new Tensor(new float[]{1, 2}, 2)), DType.F32, Map.of());
        SafetensorsWriter.write(dir.resolve("b.safetensors"), Map.of("y", new Tensor(new float[]{3}, 1)), DType.F32, Map.of());
        Path idx = Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}}");
        Result r = run("info", idx.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("tensors:    2") && r.out().contains("parameters: 3"), r.out());
        Files.writeString(idx, "{\"weight_map\":{\"x\":\"missing.safetensors\"}}");
        oneLineFailure(run("info", idx.toString()), idx, "missing");
    }
}

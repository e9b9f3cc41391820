package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad requests and broken model folders fail early with a message naming what is wrong. */
class BadRequestTest {

    static void rejects(String field, UnaryOperator<GenerationRequest.Builder> edit) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> edit.apply(GenerationRequest.builder("a cat")).build(), field);
        assertTrue(e.getMessage().contains(field), "message '" + e.getMessage() + "' does not name " + field);
    }

    @Test void builderValidatesEveryField() {
        rejects("steps", b -> b.steps(-1));
        rejects("steps", b -> b.steps(0));
        rejects("width", b -> b.width(0));
        rejects("height", b -> b.size(64, 0));
        rejects("steps", b -> b.steps(GenerationRequest.MAX_STEPS + 1));
        rejects("width", b -> b.size(100, 64));
        rejects("height", b -> b.size(64, 100));
        rejects("width", b -> b.width(-8));
        rejects("width", b -> b.width(GenerationRequest.MAX_SIDE + 8));
        rejects("batch", b -> b.batch(0));
        rejects("batch", b -> b.batch(GenerationRequest.MAX_BATCH + 1));
        rejects("strength", b -> b.strength(0f));
        rejects("strength", b -> b.strength(1.01f));
        rejects("strength", b -> b.strength(Float.NaN));
        rejects("guidance", b -> b.guidanceScale(-1f));
        rejects("guidance", b -> b.guidanceScale(Float.NaN));
        rejects("guidance", b -> b.guidanceScale(Float.POSITIVE_INFINITY));
        rejects("eta", b -> b.eta(-0.1f));
        rejects("clip skip", b -> b.clipSkip(0));
        rejects("init image", b -> b.initImage(Tensor.zeros(3, 64, 64)));
        rejects("init image", b -> b.initImage(Tensor.zeros(1, 4, 64, 64)));
        assertThrows(NullPointerException.class, () -> GenerationRequest.builder(null));
    }

    @Test void unsetMeansTheFamilyDefaults() {
        GenerationRequest r = GenerationRequest.builder("a cat").seed(3).build();
        assertEquals(0, r.steps());
        assertTrue(Float.isNaN(r.guidanceScale()), "unset guidance reads as NaN");
        assertDoesNotThrow(() -> GenerationRequest.builder("").guidanceScale(0f).strength(1f).build());
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.sd1())) {
            assertEquals(new StableDiffusion.Resolved("euler_a", 25, 7.5f, 512, 512, 3), sd.resolve(r));
            assertEquals(new StableDiffusion.Resolved("lcm", 4, 1f, 512, 512, 3), sd.resolve(GenerationRequest.builder("a").sampler("LCM").seed(3).build()));
            // a sampler name the engine does not know
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sd.generate(TinyModels.small("a", 1).sampler("plms").build()));
            assertTrue(e.getMessage().contains("plms"), e.getMessage());
            // clip skip beyond the text encoder's layers
            e = assertThrows(IllegalArgumentException.class, () -> sd.generate(TinyModels.small("a", 1).clipSkip(12).build()));
            assertTrue(e.getMessage().toLowerCase().contains("clip"), e.getMessage());
        }
    }

    /** A copy of the tiny SD1 folder (files linked) without the named components. */
    static Path copyWithout(Path dir, String... missing) throws IOException {
        Path src = TinyModels.sd1(), dst = dir.resolve("model");
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path rel = src.relativize(p);
                if (rel.getNameCount() > 0 && java.util.List.of(missing).contains(rel.getName(0).toString())) continue;
                Path t = dst.resolve(rel.toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.createSymbolicLink(t, p.toAbsolutePath());
            }
        }
        return dst;
    }

    static ModelFormatException loadFails(ModelOptions o) {
        return assertThrows(ModelFormatException.class, () -> StableDiffusion.load(o).close());
    }

    @Test void brokenModelFoldersNameWhatIsMissing(@TempDir Path dir) throws IOException {
        Path noVae = copyWithout(dir.resolve("a"), "vae");
        ModelFormatException e = loadFails(ModelOptions.of(noVae));
        assertTrue(e.getMessage().contains("VAE") && e.getMessage().contains("--vae"), e.getMessage());
        // the VAE can come from elsewhere
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(noVae).withVae(TinyModels.sd1().resolve("vae")))) {
            TinyModels.assertImages(sd.generate(TinyModels.small("a", 1).steps(1).build()).images(), 1, 64, 64);
        }
        // TAESD alone decodes too, and encodes init images
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(noVae).withTaesd(TinyModels.taesd()))) {
            TinyModels.assertImages(sd.generate(TinyModels.small("a", 1).steps(1).build()).images(), 1, 64, 64);
            TinyModels.assertImages(sd.generate(GenerationRequest.builder("a").seed(1).steps(2).initImage(TinyModels.gradient(64, 64))
                    .strength(0.5f).build()).images(), 1, 64, 64);
        }
        // a TAESD decoder alone cannot encode an init image
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(noVae).withTaesd(TinyModels.taesd().resolve("taesd_decoder.safetensors")))) {
            TinyModels.assertImages(sd.generate(TinyModels.small("a", 1).steps(1).build()).images(), 1, 64, 64);
            IllegalArgumentException iae = assertThrows(IllegalArgumentException.class, () -> sd.generate(GenerationRequest.builder("a")
                    .seed(1).steps(2).initImage(TinyModels.gradient(64, 64)).build()));
            assertTrue(iae.getMessage().contains("encoder"), iae.getMessage());
        }

        e = loadFails(ModelOptions.of(copyWithout(dir.resolve("b"), "unet")));
        assertTrue(e.getMessage().contains("U-Net"), e.getMessage());

        e = loadFails(ModelOptions.of(copyWithout(dir.resolve("c"), "text_encoder")));
        assertTrue(e.getMessage().contains("text encoder") && e.getMessage().contains("--text-encoder"), e.getMessage());

        // several parts missing: all named in one message
        e = loadFails(ModelOptions.of(copyWithout(dir.resolve("d"), "text_encoder", "vae", "tokenizer")));
        assertTrue(e.getMessage().contains("missing text encoder (pass --text-encoder PATH), VAE (pass a VAE with --vae"), e.getMessage());

        // a text file given as the model
        Path text = Files.writeString(dir.resolve("model.safetensors"), "this is not a model\n");
        e = loadFails(ModelOptions.of(text));
        assertTrue(e.getMessage().contains("not a safetensors file"), e.getMessage());

        Path missing = dir.resolve("nothing-here");
        Exception any = assertThrows(RuntimeException.class, () -> StableDiffusion.load(missing).close());
        assertTrue(any.getMessage().contains("nothing-here"), any.getMessage());
    }

    @Test void modelsWithoutTokenizerUseTheBundledClipVocabulary(@TempDir Path dir) throws IOException {
        // configs only (no tokenizer), so the tiny model's shapes are described; no tokenizer/ beside the file
        Path cfg = copyWithout(dir.resolve("cfg"), "tokenizer");
        Path file = dir.resolve("single").resolve("tiny.safetensors");
        Files.createDirectories(file.getParent());
        Files.createSymbolicLink(file, TinyModels.sd1SingleFile().toAbsolutePath());
        GenerationRequest req = TinyModels.small("a photo of an astronaut riding a horse", 1).steps(1).build();
        Tensor expected;
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.sd1())) {
            expected = sd.generate(req).images().get(0);
        }
        for (ModelOptions o : java.util.List.of(ModelOptions.of(file).withConfig(cfg), ModelOptions.of(cfg)))
            try (StableDiffusion sd = StableDiffusion.load(o)) {
                assertTrue(TinyModels.same(expected, sd.generate(req).images().get(0)), o.model() + ": differs from the folder's image");
            }
    }

    @Test void taesdDecodeNeedsTaesd() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withTaesdDecode(true)).close());
        assertTrue(e.getMessage().contains("TAESD"), e.getMessage());
        try (StableDiffusion full = StableDiffusion.load(TinyModels.sd1());
             StableDiffusion fast = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withTaesd(TinyModels.taesd()).withTaesdDecode(true))) {
            GenerationRequest req = TinyModels.small("a", 1).steps(2).build();
            Tensor a = full.generate(req).images().get(0), b = fast.generate(req).images().get(0);
            TinyModels.assertImages(java.util.List.of(b), 1, 64, 64);
            assertTrue(!TinyModels.same(a, b), "--fast-decode gives the full VAE's image");
        }
    }

    @Test void closedModelRefusesWork() {
        StableDiffusion sd = StableDiffusion.load(TinyModels.sd1());
        sd.close();
        sd.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sd.generate(TinyModels.small("a", 1).build()));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }
}

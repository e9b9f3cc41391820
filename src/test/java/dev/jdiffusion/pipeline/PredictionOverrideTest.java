package dev.jdiffusion.pipeline;

import dev.jdiffusion.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --prediction / ModelOptions.withPrediction: the override reaches every sampler's prediction_type. */
class PredictionOverrideTest {

    @Test
    void overrideSetsThePredictionTypeAndChangesTheImage() throws Exception {
        GenerationRequest req = TinyModels.small("a red cube", 7).sampler("euler").build();
        // the single file needs the folder's configs for its tiny text encoder; a folder's own prediction_type is overridden too
        ModelOptions base = ModelOptions.of(TinyModels.sd1SingleFile()).withConfig(TinyModels.sd1());
        GenerationResult eps, v, v2;
        try (StableDiffusion sd = StableDiffusion.load(base)) {
            assertFalse(sd.components().schedulerConfig().path("prediction_type").asText("epsilon").equals("v_prediction"));
            eps = sd.generate(req);
            assertFalse(eps.parameters().contains("Prediction:"), eps.parameters());
        }
        try (StableDiffusion sd = StableDiffusion.load(base.withPrediction("v"))) {
            assertEquals("v_prediction", sd.components().schedulerConfig().get("prediction_type").asText());
            v = sd.generate(req);
            v2 = sd.generate(req);
            assertTrue(v.parameters().contains(", Prediction: v,"), v.parameters());
        }
        assertFalse(TinyModels.same(eps.images().get(0), v.images().get(0)), "v-prediction must change the image");
        assertTrue(TinyModels.same(v.images().get(0), v2.images().get(0)), "same seed, same bits");
        try (StableDiffusion sd = StableDiffusion.load(base.withPrediction("eps"))) {
            GenerationResult e2 = sd.generate(req);
            assertTrue(TinyModels.same(eps.images().get(0), e2.images().get(0)), "eps override equals the default here");
            assertTrue(e2.parameters().contains(", Prediction: eps,"), e2.parameters());
        }
    }

    /** Without an override, a model whose scheduler config is v-prediction (or a single file detected as v) records it too. */
    @Test
    void aVPredictionModelSaysSoInItsParameters(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path src = TinyModels.sd1();
        try (var s = java.nio.file.Files.list(src)) {
            for (java.nio.file.Path p : s.toList())
                if (!p.getFileName().toString().equals("scheduler")) java.nio.file.Files.createSymbolicLink(dir.resolve(p.getFileName().toString()), p);
        }
        var cfg = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(src.resolve("scheduler").resolve("scheduler_config.json").toFile());
        cfg.put("prediction_type", "v_prediction");
        java.nio.file.Files.writeString(java.nio.file.Files.createDirectory(dir.resolve("scheduler")).resolve("scheduler_config.json"), cfg.toString());
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(dir))) {
            GenerationResult r = sd.generate(TinyModels.small("a red cube", 7).sampler("euler").build());
            assertTrue(r.parameters().contains(", Prediction: v,"), r.parameters());
        }
    }

    @Test
    void badValueIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelOptions.of(TinyModels.sd1()).withPrediction("x0"));
        assertTrue(e.getMessage().contains("x0"), e.getMessage());
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"generate", "-m", TinyModels.sd1().toString(), "-p", "x", "--prediction", "x0"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String msg = err.toString(StandardCharsets.UTF_8);
        assertTrue(rc != 0, "exit code");
        assertTrue(msg.contains("--prediction") && msg.contains("x0"), msg);
    }
}

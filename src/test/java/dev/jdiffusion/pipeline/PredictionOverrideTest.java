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

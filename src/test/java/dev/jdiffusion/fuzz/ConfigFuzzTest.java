package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.model.clip.ClipTextConfig;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.model.vae.VaeConfig;
import dev.jdiffusion.sampling.SchedulerConfig;
import dev.jdiffusion.weights.ModelFormatException;

import java.io.IOException;

/**
 * Fuzzes the model config parsers with arbitrary JSON: a config or a
 * {@link dev.jdiffusion.weights.ModelFormatException} (the scheduler config documents IllegalArgumentException).
 */
class ConfigFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "30s")
    void clipTextConfig(byte[] input) {
        if (input == null) return;
        String json = Outcomes.text(input);
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (IOException e) {
            return; // Checkpoint.config reports unparsable JSON itself; fuzzed here: what the parser does with any tree
        }
        if (n == null) return;
        Outcomes.expectResultOrModelFormat(() -> {
            ClipTextConfig c = ClipTextConfig.fromJson(n, "config.json");
            c.headDim();
        });
    }

    @FuzzTest(maxDuration = "30s")
    void unetConfig(byte[] input) {
        JsonNode n = tree(input);
        if (n != null) Outcomes.expectResultOrModelFormat(() -> UNetConfig.fromJson(n));
    }

    @FuzzTest(maxDuration = "30s")
    void vaeConfig(byte[] input) {
        JsonNode n = tree(input);
        if (n != null) Outcomes.expectResultOrModelFormat(() -> VaeConfig.of(n, "vae/config.json"));
    }

    @FuzzTest(maxDuration = "30s")
    void schedulerConfig(byte[] input) {
        JsonNode n = tree(input);
        if (n != null)
            Outcomes.expectResultOrDocumented(() -> SchedulerConfig.parse(n), IllegalArgumentException.class, ModelFormatException.class);
    }

    private static JsonNode tree(byte[] input) {
        if (input == null) return null;
        try {
            return JSON.readTree(Outcomes.text(input));
        } catch (IOException e) {
            return null;
        }
    }
}

package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.model.clip.ClipTextConfig;

import java.io.IOException;

/**
 * Fuzzes the model config parsers with arbitrary JSON: a config or a
 * {@link dev.jdiffusion.weights.ModelFormatException}. (U-Net and VAE config targets follow when their parsers land.)
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
}

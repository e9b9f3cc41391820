package dev.jdiffusion.pipeline;

import dev.jdiffusion.cli.Main;
import dev.jdiffusion.weights.Checkpoint;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One family detection: what generate loads and what info prints agree, for folders, single files and LCM. */
class ModelFamilyTest {
    @Test
    void generateAndInfoAgree() {
        for (ModelOptions o : List.of(ModelOptions.of(TinyModels.sd1()), ModelOptions.of(TinyModels.sd1SingleFile()).withConfig(TinyModels.sd1()), TinyModels.lcm())) {
            ModelFamily loaded;
            try (StableDiffusion sd = StableDiffusion.load(o)) {
                loaded = sd.family();
            }
            ModelFamily.Detection detected;
            try (Checkpoint c = Checkpoint.open(o.model())) {
                detected = ModelFamily.of(c);
            }
            assertNotNull(detected.family(), o.model() + ": " + detected.evidence());
            assertEquals(loaded, detected.family(), o.model() + ": generate loads " + loaded + ", info detects " + detected);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int rc = Main.run(new String[]{"info", o.model().toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            String text = out.toString(StandardCharsets.UTF_8);
            assertEquals(0, rc, text);
            assertTrue(text.contains("family:     " + loaded.label() + " ("), text);
        }
    }
}

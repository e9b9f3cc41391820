package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bench --controlnets N --inpaint} on the tiny model: the synthetic ControlNet is written once and used. */
class BenchControlTest {
    @Test void benchRunsWithSyntheticControlNetsAndInpainting(@TempDir Path home) throws Exception {
        String old = System.getProperty("jdiffusion.home");
        System.setProperty("jdiffusion.home", home.toString());
        try {
            VaeCommandTest.Result r = VaeCommandTest.run("bench", "--model", Golden.resolve("models/tiny-sd1").toString(), "-W", "64", "-H", "64",
                    "--steps", "1", "--no-warmup", "--controlnets", "2", "--inpaint", "--sampler", "ddim", "--json");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("\"controlnets\" : 2") && r.out().contains("\"inpaint\" : true"), r.out());
            assertTrue(Files.isRegularFile(home.resolve("weights/synthetic-controlnet-tiny-sd1/config.json")));
        } finally {
            if (old == null) System.clearProperty("jdiffusion.home");
            else System.setProperty("jdiffusion.home", old);
        }
    }
}

package dev.jdiffusion.fuzz;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The other side of the fuzz tests: the hardened checks must accept every real file of the golden set
 * (each safetensors file read completely, each model folder and single file opened as a checkpoint).
 */
class GoldenFilesAcceptedTest {
    @Test
    void everyGoldenModelFileOpensAndReadsCompletely() throws IOException {
        Path models = Golden.resolve("models");
        assumeTrue(Files.isDirectory(models), "golden set not available");
        List<Path> files;
        try (Stream<Path> s = Files.walk(models)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        }
        assertFalse(files.isEmpty());
        for (Path f : files) {
            SafetensorsFuzzTest.readAll(f);
            try (SafetensorsFile st = SafetensorsFile.open(f)) {
                assertFalse(st.names().isEmpty(), f.toString());
            }
        }
        try (Stream<Path> s = Files.list(models)) {
            for (Path m : s.sorted().toList()) {
                boolean model = Files.isRegularFile(m.resolve("model_index.json")) || m.toString().endsWith(".safetensors");
                if (!model) continue;
                try (Checkpoint c = Checkpoint.open(m)) {
                    for (String comp : new String[]{Checkpoint.UNET, Checkpoint.VAE, Checkpoint.TEXT_ENCODER})
                        if (c.has(comp)) { var t = c.tensors(comp); for (String n : t.names()) t.get(n).numel(); }
                }
            }
        }
    }
}

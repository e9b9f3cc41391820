package dev.jdiffusion.weights;

import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MultiSourceTest {
    @TempDir Path dir;

    private SafetensorsFile file(String name, String... tensors) {
        java.util.Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (String t : tensors) m.put(t, new Tensor(new float[]{1}, 1));
        Path p = dir.resolve(name);
        SafetensorsWriter.write(p, m, DType.F32, Map.of());
        return SafetensorsFile.open(p);
    }

    @Test void union() {
        try (MultiSource s = new MultiSource("both", List.of(file("a.safetensors", "x"), file("b.safetensors", "y")))) {
            assertEquals(Set.of("x", "y"), s.names());
            assertTrue(s.get("y").source().endsWith("b.safetensors"));
        }
    }

    @Test void duplicatesNameBothFiles() {
        SafetensorsFile a = file("a.safetensors", "x"), b = file("b.safetensors", "x");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> new MultiSource("model", List.of(a, b)));
        assertTrue(e.getMessage().contains("tensor x") && e.getMessage().contains("a.safetensors") && e.getMessage().contains("b.safetensors"), e.getMessage());
        a.close();
        b.close();
    }

    @Test void emptyFileList() {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> new MultiSource("vae", List.of()));
        assertTrue(e.getMessage().contains("vae") && e.getMessage().contains("empty"), e.getMessage());
    }
}

package dev.jdiffusion.weights;

import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorViewTest {
    @TempDir Path dir;

    @Test void halfPrecisionRangesAcrossChunks() {
        int n = 20_001;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) Math.cos(i * 0.37) * (i % 7 + 1);
        for (DType dt : new DType[]{DType.F16, DType.BF16, DType.F32}) {
            Path p = dir.resolve(dt + ".safetensors");
            SafetensorsWriter.write(p, Map.of("v", new Tensor(v, n)), dt, Map.of());
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                TensorView t = f.get("v");
                float[] all = t.toFloatArray();
                for (int i = 0; i < n; i++) assertEquals(t.getFloat(i), all[i], dt + " element " + i);
                float[] part = new float[12_000 + 3];
                t.readFloats(5_000, part, 3, 12_000);
                for (int i = 0; i < 12_000; i++) assertEquals(all[5_000 + i], part[3 + i]);
                assertThrows(IndexOutOfBoundsException.class, () -> t.readFloats(n - 1, new float[2], 0, 2));
            }
        }
    }

    @Test void shapeChecks() {
        MemorySegment seg = MemorySegment.ofArray(new byte[24]);
        assertThrows(IllegalArgumentException.class, () -> new TensorView("w", "f", DType.F32, new long[]{5}, seg));
        assertThrows(IllegalArgumentException.class, () -> new TensorView("w", "f", DType.F32, new long[]{-2, -3}, seg));
        TensorView t = new TensorView("w", "f.safetensors", DType.F32, new long[]{2, 3}, seg);
        assertArrayEquals(new long[]{3, 2}, t.reshaped(3, 2).shape());
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> t.reshaped(4, 2));
        assertTrue(e.getMessage().contains("f.safetensors") && e.getMessage().contains("w"), e.getMessage());
        ModelFormatException s = assertThrows(ModelFormatException.class, () -> t.expectShape(3, 2));
        assertTrue(s.getMessage().contains("[2, 3]") && s.getMessage().contains("expected [3, 2]"), s.getMessage());
        assertEquals(3, t.dim(-1));
    }
}

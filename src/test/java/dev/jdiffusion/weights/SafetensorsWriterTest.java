package dev.jdiffusion.weights;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsWriter.Spec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsWriterTest {
    @TempDir Path dir;

    private List<Path> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    @Test void roundTripAllDtypes() throws IOException {
        float[] f32 = {1f, -0f, Float.MIN_VALUE, Float.MAX_VALUE, 0.1f, Float.NEGATIVE_INFINITY};
        float[] f16 = {0.5f, -2f, 65504f, 0x1p-24f, 0.1f, 1f / 3};
        float[] bf16 = {1.5f, -10f, 1f + 0x1p-8f /* tie: rounds to even 1.0 */, 1f + 0x1p-7f + 0x1p-8f /* tie: rounds up */, 3.14159f};
        long[] i64 = {Long.MIN_VALUE, -1, 0, 49407, Long.MAX_VALUE};
        Path p = dir.resolve("t.safetensors");
        List<Spec> specs = List.of(new Spec("a", DType.F32, 2, 3), new Spec("b", DType.F16, 6), new Spec("empty", DType.F16, 0, 4),
                new Spec("c", DType.BF16, 5), new Spec("ids", DType.I64, 1, 5));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, specs, Map.of("format", "pt", "note", "ünïcode"))) {
            w.writeTensor("a", f32);
            w.write(f16, 0, 2);          // chunks of any size
            w.write(f16, 2, 4);
            assertEquals("c", w.currentTensor(), "the zero-size tensor needs no values");
            w.writeTensor("c", bf16);
            w.writeTensor("ids", i64);
            assertEquals(null, w.currentTensor());
            w.commit();
        }
        assertEquals(List.of(p), files(), "no temporary file left");
        try (SafetensorsFile sf = SafetensorsFile.open(p)) {
            assertEquals(0, sf.dataStart() % 8, "header padded to 8 bytes");
            assertEquals("ünïcode", sf.metadata().get("note"));
            assertArrayEquals(f32, sf.get("a").toFloatArray());
            assertArrayEquals(new long[]{2, 3}, sf.get("a").shape());
            float[] r16 = new float[f16.length];
            for (int i = 0; i < r16.length; i++) r16[i] = Float.float16ToFloat(Float.floatToFloat16(f16[i]));
            assertArrayEquals(r16, sf.get("b").toFloatArray());
            assertEquals(0, sf.get("empty").numel());
            float[] rb = sf.get("c").toFloatArray();
            assertEquals(1.5f, rb[0]);
            assertEquals(-10f, rb[1]);
            assertEquals(1f, rb[2]);
            assertEquals(1f + 0x1p-6f, rb[3]);
            assertEquals(Float.intBitsToFloat(0x40490000), rb[4]);
            assertArrayEquals(i64, sf.get("ids").toLongArray());
            assertEquals(DType.I64, sf.get("ids").dtype());
        }
    }

    @Test void fileModeIsLikeAnyOtherFile() throws IOException {
        Path p = dir.resolve("m.safetensors"), q = Files.writeString(dir.resolve("plain"), "x");
        SafetensorsWriter.write(p, Map.of("v", new Tensor(new float[]{1}, 1)), DType.F32, Map.of());
        if (p.getFileSystem().supportedFileAttributeViews().contains("posix"))
            assertEquals(Files.getPosixFilePermissions(q), Files.getPosixFilePermissions(p), "not a private temp-file mode");
    }

    @Test void bf16Rounding() {
        assertEquals((short) 0x3f80, SafetensorsWriter.toBf16(1f));
        assertEquals((short) 0x3f80, SafetensorsWriter.toBf16(1f + 0x1p-8f));
        assertEquals((short) 0x3f82, SafetensorsWriter.toBf16(1f + 0x1p-7f + 0x1p-8f));
        assertTrue(Float.isNaN(Float.intBitsToFloat(SafetensorsWriter.toBf16(Float.NaN) << 16)));
        assertEquals((short) 0x7f80, SafetensorsWriter.toBf16(Float.POSITIVE_INFINITY));
    }

    @Test void largeTensorCrossesBufferBoundaries() {
        int n = 3_000_001;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i * 0.25f;
        Path p = dir.resolve("big.safetensors");
        SafetensorsWriter.write(p, Map.of("v", new Tensor(v, n)), DType.F32, Map.of());
        try (SafetensorsFile sf = SafetensorsFile.open(p)) {
            assertArrayEquals(v, sf.get("v").toFloatArray());
        }
    }

    @Test void heapTensorsConvenience() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("x", new Tensor(new float[]{1, 2, 3, 4}, 2, 2));
        m.put("y", new Tensor(new float[]{5}, 1));
        Path p = dir.resolve("sub/h.safetensors");
        SafetensorsWriter.write(p, m, DType.F16, Map.of());
        try (SafetensorsFile sf = SafetensorsFile.open(p)) {
            assertEquals(DType.F16, sf.get("x").dtype());
            assertArrayEquals(new float[]{1, 2, 3, 4}, sf.get("x").toFloatArray());
        }
    }

    @Test void incompleteWriteLeavesNothing() throws IOException {
        Path p = dir.resolve("t.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new Spec("a", DType.F32, 4)), Map.of())) {
            w.write(new float[]{1, 2}, 0, 2);
            IllegalStateException e = assertThrows(IllegalStateException.class, w::commit);
            assertTrue(e.getMessage().contains("a") && e.getMessage().contains("incomplete"), e.getMessage());
        }
        assertEquals(List.of(), files(), "neither the target nor a temporary file");
    }

    @Test void failureInTheMiddleLeavesOldTargetUntouched() throws IOException {
        Path p = dir.resolve("t.safetensors");
        Files.writeString(p, "old");
        assertThrows(RuntimeException.class, () -> {
            try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new Spec("a", DType.F32, 2)), Map.of())) {
                w.write(new float[]{1}, 0, 1);
                throw new RuntimeException("generator failed");
            }
        });
        assertEquals("old", Files.readString(p));
        assertEquals(List.of(p), files());
    }

    @Test void misuseIsReported() {
        Path p = dir.resolve("t.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(p, List.of(new Spec("a", DType.F32, 1), new Spec("a", DType.F32, 1)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new Spec("a", DType.F32, -1));
        assertThrows(IllegalArgumentException.class, () -> new Spec("a", DType.BOOL, 1));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new Spec("a", DType.F32, 2), new Spec("b", DType.I64, 1)), Map.of())) {
            assertThrows(IllegalStateException.class, () -> w.writeTensor("b", new long[]{1}));
            assertThrows(IllegalArgumentException.class, () -> w.writeTensor("a", new float[]{1, 2, 3}));
            assertThrows(IllegalArgumentException.class, () -> w.write(new long[]{1, 2}, 0, 2));
            w.writeTensor("a", new float[]{1, 2});
            assertThrows(IllegalArgumentException.class, () -> w.write(new float[]{1}, 0, 1));
        }
        assertFalse(Files.exists(p));
    }
}

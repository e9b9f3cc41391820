package dev.jdiffusion.weights;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every defect of a .safetensors file gives a one-line {@link ModelFormatException} naming the file (and tensor). */
class SafetensorsFileTest {
    @TempDir Path dir;

    /** Opens p expecting a ModelFormatException whose single-line message names the file and every fragment. */
    static ModelFormatException bad(Path p, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p).close());
        String m = e.getMessage();
        assertTrue(m.contains(p.toString()), "message names the file: " + m);
        assertFalse(m.contains("\n"), "one line: " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message contains '" + f + "': " + m);
        return e;
    }

    private Path f(String name) { return dir.resolve(name); }

    private static String t(String name, String dtype, String shape, long b, long e) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + b + "," + e + "]}";
    }

    @Test void shorterThanLengthField() {
        bad(Raw.bytes(f("a.safetensors"), new byte[]{1, 2, 3}), "truncated");
        bad(Raw.bytes(f("empty.safetensors"), new byte[0]), "truncated");
    }

    @Test void headerPastEndOfFile() {
        bad(Raw.withLength(f("a.safetensors"), 100, "{}".getBytes()), "runs past the end");
    }

    @Test void dataPastEndOfFile() {
        Path p = Raw.file(f("a.safetensors"), "{" + t("w", "F32", "[4]", 0, 16) + "}", Raw.f32(1, 2));
        bad(p, "tensor w", "runs past the end of the data area");
    }

    @Test void absurdHeaderLengths() {
        bad(Raw.withLength(f("a.safetensors"), Long.MIN_VALUE, "{}".getBytes()), "9223372036854775808", "not plausible");
        bad(Raw.withLength(f("b.safetensors"), 1L << 40, "{}".getBytes()), "not plausible");
        bad(Raw.withLength(f("c.safetensors"), -1, "{}".getBytes()), "not plausible");
        bad(Raw.withLength(f("d.safetensors"), 0, new byte[0]), "not plausible");
    }

    @Test void headerNotUtf8() {
        bad(Raw.file(f("a.safetensors"), new byte[]{'{', '"', (byte) 0xff, (byte) 0xfe, '"', ':', '1', '}'}, new byte[0]), "UTF-8");
    }

    @Test void headerNotJson() {
        bad(Raw.file(f("a.safetensors"), "{\"w\":", new byte[0]), "not valid JSON");
        bad(Raw.file(f("b.safetensors"), "hello", new byte[0]), "not valid JSON");
    }

    @Test void trailingGarbageAfterJson() {
        bad(Raw.file(f("a.safetensors"), "{} {}", new byte[0]), "not valid JSON");
        bad(Raw.file(f("b.safetensors"), "{}xyz", new byte[0]), "not valid JSON");
    }

    @Test void trailingBytesAfterLastTensor() {
        Path p = Raw.file(f("a.safetensors"), "{" + t("w", "F32", "[1]", 0, 4) + "}", Raw.f32(1, 2));
        bad(p, "4 trailing bytes");
    }

    @Test void holeBetweenTensors() {
        Path p = Raw.file(f("a.safetensors"), "{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 8, 12) + "}", Raw.f32(1, 2, 3));
        bad(p, "tensor b", "hole");
    }

    @Test void headerNotAnObject() {
        bad(Raw.file(f("a.safetensors"), "[1,2]", new byte[0]), "not a JSON object", "array");
        bad(Raw.file(f("b.safetensors"), "42", new byte[0]), "not a JSON object");
    }

    @Test void duplicateKeys() {
        String h = "{" + t("w", "F32", "[1]", 0, 4) + "," + t("w", "F32", "[1]", 4, 8) + "}";
        bad(Raw.file(f("a.safetensors"), h, Raw.f32(1, 2)), "Duplicate", "w");
    }

    @Test void unknownDtype() {
        bad(Raw.file(f("a.safetensors"), "{" + t("w", "F8_E9M9", "[1]", 0, 1) + "}", new byte[1]), "tensor w", "unknown dtype F8_E9M9");
        bad(Raw.file(f("b.safetensors"), "{\"w\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "tensor w", "dtype");
    }

    @Test void badShapes() {
        bad(Raw.file(f("a.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]), "tensor w", "missing shape");
        bad(Raw.file(f("b.safetensors"), "{" + t("w", "F32", "[-1]", 0, 4) + "}", new byte[4]), "tensor w", "bad dimension -1");
        bad(Raw.file(f("c.safetensors"), "{" + t("w", "F32", "[1.5]", 0, 4) + "}", new byte[4]), "tensor w", "bad dimension 1.5");
        bad(Raw.file(f("d.safetensors"), "{" + t("w", "F32", "[\"1\"]", 0, 4) + "}", new byte[4]), "tensor w", "bad dimension");
        bad(Raw.file(f("e.safetensors"), "{" + t("w", "F32", "[99999999999999999999]", 0, 4) + "}", new byte[4]), "tensor w", "bad dimension");
        bad(Raw.file(f("f.safetensors"), "{" + t("w", "F32", "3", 0, 4) + "}", new byte[4]), "tensor w", "missing shape");
    }

    @Test void shapeOverflow() {
        bad(Raw.file(f("a.safetensors"), "{" + t("w", "F32", "[4294967296,4294967296]", 0, 4) + "}", new byte[4]), "tensor w", "2^63");
        bad(Raw.file(f("b.safetensors"), "{" + t("w", "F32", "[2305843009213693952]", 0, 4) + "}", new byte[4]), "tensor w", "2^63 bytes");
    }

    @Test void shapeTimesDtypeMustMatchSpan() {
        bad(Raw.file(f("a.safetensors"), "{" + t("w", "F16", "[3]", 0, 8) + "}", new byte[8]), "tensor w", "6 bytes but data_offsets span 8");
    }

    @Test void overlappingRanges() {
        String h = "{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 4, 12) + "}";
        bad(Raw.file(f("a.safetensors"), h, new byte[12]), "a and b overlap");
    }

    @Test void overlapHiddenBehindZeroSizeTensor() {
        String h = "{" + t("big", "F32", "[4]", 0, 16) + "," + t("z", "F32", "[0]", 0, 0) + "," + t("c", "F32", "[1]", 8, 12) + "}";
        bad(Raw.file(f("a.safetensors"), h, new byte[16]), "overlap");
    }

    @Test void reversedOffsets() {
        bad(Raw.file(f("a.safetensors"), "{" + t("w", "F32", "[1]", 8, 4) + "}", new byte[8]), "tensor w", "bad data_offsets [8, 4]");
        bad(Raw.file(f("b.safetensors"), "{" + t("w", "F32", "[1]", -4, 0) + "}", new byte[8]), "tensor w", "bad data_offsets");
        bad(Raw.file(f("c.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", new byte[4]), "tensor w", "data_offsets");
    }

    @Test void metadataMustBeStrings() {
        bad(Raw.file(f("a.safetensors"), "{\"__metadata__\":{\"format\":1}}", new byte[0]), "__metadata__", "format", "not a string");
        bad(Raw.file(f("b.safetensors"), "{\"__metadata__\":[\"x\"]}", new byte[0]), "__metadata__");
        bad(Raw.file(f("c.safetensors"), "{\"__metadata__\":{\"a\":null}}", new byte[0]), "__metadata__", "not a string");
    }

    @Test void entryNotAnObject() {
        bad(Raw.file(f("a.safetensors"), "{\"w\":[1,2]}", new byte[0]), "tensor w", "not an object");
    }

    @Test void directoryIsRejected() {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(dir));
        assertTrue(e.getMessage().contains("directory"), e.getMessage());
    }

    @Test void missingFile() {
        Path p = f("nope.safetensors");
        bad(p, "no such file");
    }

    @Test void unpaddedHeaderIsAccepted() throws IOException {
        // Header length 47 (not a multiple of 8): data starts unaligned, values must still read back exactly.
        String h = "{" + t("w", "F32", "[3]", 0, 12) + "}";
        assertTrue((h.length() & 7) != 0, "the header is unpadded");
        Path p = Raw.file(f("a.safetensors"), h, Raw.f32(1.5f, -2.25f, 3e-8f));
        try (SafetensorsFile sf = SafetensorsFile.open(p)) {
            assertEquals(8 + h.length(), sf.dataStart());
            assertArrayEquals(new float[]{1.5f, -2.25f, 3e-8f}, sf.get("w").toFloatArray());
        }
    }

    @Test void emptyHeaderIsAValidEmptyFile() {
        try (SafetensorsFile sf = SafetensorsFile.open(Raw.file(f("a.safetensors"), "{}", new byte[0]))) {
            assertTrue(sf.names().isEmpty());
        }
        try (SafetensorsFile sf = SafetensorsFile.open(Raw.file(f("b.safetensors"), "{}      ", new byte[0]))) {
            assertTrue(sf.names().isEmpty(), "space padding is whitespace, not garbage");
        }
    }

    @Test void zeroSizeTensors() {
        String h = "{" + t("z0", "F32", "[0,3]", 0, 0) + "," + t("w", "F32", "[2]", 0, 8) + "," + t("z1", "F16", "[5,0]", 8, 8) + "}";
        try (SafetensorsFile sf = SafetensorsFile.open(Raw.file(f("a.safetensors"), h, Raw.f32(7, 8)))) {
            assertEquals(0, sf.get("z0").numel());
            assertEquals(0, sf.get("z0").toFloatArray().length);
            assertArrayEquals(new long[]{5, 0}, sf.get("z1").shape());
            assertArrayEquals(new float[]{7, 8}, sf.get("w").toFloatArray());
        }
    }

    @Test void rawValuesReadBackExactly() {
        short h1 = Float.floatToFloat16(0.333f), h2 = (short) 0x7bff /* 65504 */, h3 = (short) 0x0001 /* smallest subnormal */;
        short b1 = (short) 0x3fc0 /* 1.5 */, b2 = (short) 0xc120 /* -10 */, b3 = (short) 0x0001;
        String h = "{\"__metadata__\":{\"format\":\"pt\"},"
                + t("f32", "F32", "[2,2]", 0, 16) + ","
                + t("f16", "F16", "[3]", 16, 22) + ","
                + t("bf16", "BF16", "[3]", 22, 28) + ","
                + t("i64", "I64", "[1,3]", 28, 52) + "}";
        byte[] data = Raw.concat(Raw.f32(1f, -0f, Float.MIN_VALUE, Float.MAX_VALUE), Raw.u16(h1, h2, h3), Raw.u16(b1, b2, b3),
                Raw.i64(Long.MIN_VALUE, 0, 49407));
        try (SafetensorsFile sf = SafetensorsFile.open(Raw.file(f("a.safetensors"), h, data))) {
            assertEquals("pt", sf.metadata().get("format"));
            assertEquals(List.of("f32", "f16", "bf16", "i64"), List.copyOf(sf.names()));
            assertArrayEquals(new float[]{1f, -0f, Float.MIN_VALUE, Float.MAX_VALUE}, sf.get("f32").toFloatArray());
            assertArrayEquals(new float[]{Float.float16ToFloat(h1), 65504f, 0x1p-24f}, sf.get("f16").toFloatArray());
            assertArrayEquals(new float[]{1.5f, -10f, Float.intBitsToFloat(0x00010000)}, sf.get("bf16").toFloatArray());
            assertArrayEquals(new long[]{Long.MIN_VALUE, 0, 49407}, sf.get("i64").toLongArray());
            assertEquals(DType.BF16, sf.get("bf16").dtype());
        }
    }

    @Test void missingTensorNamesTheFile() {
        Path p = Raw.file(f("a.safetensors"), "{}", new byte[0]);
        try (SafetensorsFile sf = SafetensorsFile.open(p)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> sf.get("conv_in.weight"));
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("conv_in.weight"), e.getMessage());
        }
    }

    @Test void everyGoldenFileOpens() throws IOException {
        Path g = Golden.dir();
        if (!Files.isDirectory(g)) return;
        try (Stream<Path> s = Files.walk(g)) {
            List<Path> files = s.filter(p -> p.toString().endsWith(".safetensors")).toList();
            assertFalse(files.isEmpty());
            for (Path p : files)
                try (SafetensorsFile sf = SafetensorsFile.open(p)) {
                    assertTrue(sf.fileSize() >= sf.dataStart());
                }
        }
    }

    private static final String JSON_CHARS = "{}[]\":,0123456789-.eE ";

    /** Random corruption of a valid file: it opens, or fails with a ModelFormatException naming the file; nothing else. */
    @Test void randomCorruptionOnlyEverGivesModelFormatException() throws IOException {
        String h = "{\"__metadata__\":{\"format\":\"pt\"}," + t("a", "F32", "[2,2]", 0, 16) + "," + t("b", "F16", "[3]", 16, 22) + ","
                + t("c", "I64", "[1]", 22, 30) + "}";
        Path good = Raw.file(f("good.safetensors"), h, new byte[30]);
        byte[] base = Files.readAllBytes(good);
        java.util.Random rnd = new java.util.Random(42);
        Path p = f("mut.safetensors");
        int opened = 0;
        for (int iter = 0; iter < 3000; iter++) {
            byte[] b = base.clone();
            int edits = 1 + rnd.nextInt(3);
            for (int k = 0; k < edits; k++) {
                int at = rnd.nextInt(Math.min(b.length, 8 + h.length()));
                b[at] = switch (rnd.nextInt(4)) {
                    case 0 -> (byte) rnd.nextInt(256);
                    case 1 -> (byte) JSON_CHARS.charAt(rnd.nextInt(JSON_CHARS.length()));
                    case 2 -> (byte) (b[at] + 1);
                    default -> (byte) (b[at] - 1);
                };
            }
            int len = rnd.nextInt(10) == 0 ? rnd.nextInt(b.length) : b.length;
            Files.write(p, java.util.Arrays.copyOf(b, len));
            try (SafetensorsFile sf = SafetensorsFile.open(p)) {
                for (String n : sf.names()) sf.get(n).toFloatArray();
                opened++;
            } catch (ModelFormatException e) {
                assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            }
        }
        assertTrue(opened < 3000);
    }

    /** Truncation is told by a stat of the same file (not by the text of the JVM's fault); a rename or a delete is not truncation. */
    @Test
    void aTruncatedMappedFileIsDetectedByItsSize(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path f = dir.resolve("t.safetensors"), g = dir.resolve("u.safetensors");
        SafetensorsWriter.write(f, java.util.Map.of("a", new dev.jdiffusion.tensor.Tensor(new float[4096], 4096)), DType.F32, java.util.Map.of());
        java.nio.file.Files.copy(f, g);
        try (SafetensorsFile a = SafetensorsFile.open(f); SafetensorsFile b = SafetensorsFile.open(g)) {
            org.junit.jupiter.api.Assertions.assertFalse(a.truncated());
            org.junit.jupiter.api.Assertions.assertFalse(SafetensorsFile.truncatedOpenFiles().contains(f));
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(100);
            }
            org.junit.jupiter.api.Assertions.assertTrue(a.truncated());
            org.junit.jupiter.api.Assertions.assertTrue(SafetensorsFile.truncatedOpenFiles().contains(f));
            // replaced by a smaller file through a rename: the mapping keeps the old file, nothing is lost
            java.nio.file.Files.write(dir.resolve("small"), new byte[10]);
            java.nio.file.Files.move(dir.resolve("small"), g, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            org.junit.jupiter.api.Assertions.assertFalse(b.truncated());
            java.nio.file.Files.delete(g);
            org.junit.jupiter.api.Assertions.assertFalse(b.truncated());
        }
        org.junit.jupiter.api.Assertions.assertFalse(SafetensorsFile.truncatedOpenFiles().contains(f), "a closed file is not listed");
    }
}

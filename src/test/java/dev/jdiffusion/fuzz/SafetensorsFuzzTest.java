package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes {@link SafetensorsFile#open}: any bytes must give either a file whose every tensor reads fully
 * inside the mapping, or a {@link dev.jdiffusion.weights.ModelFormatException} with a message.
 *
 * <p>Regression mode (plain {@code mvn test}) replays {@code SafetensorsFuzzTestInputs/<method>/} from the
 * test resources; {@code JAZZER_FUZZ=1} (see {@code tools/fuzz}) fuzzes for {@code maxDuration}.
 */
class SafetensorsFuzzTest {
    private static final Path DIR = Outcomes.tempDir("jd-fuzz-st");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] DTYPES = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL",
            "F8_E4M3", "U64", "f32", "", "F32 ", "C64"};
    private static final long[] INTERESTING = {0, 1, 2, 3, 4, 7, 8, 16, -1, -2, Integer.MAX_VALUE, Integer.MAX_VALUE + 1L,
            1L << 32, (1L << 32) + 1, Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE / 2, Long.MAX_VALUE / 4 + 1, 1L << 62, 1L << 61};

    /** Raw bytes as a whole file. */
    @DictionaryEntries({"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"",
            "\"BF16\"", "\"I64\"", "\"U8\"", "\"BOOL\"", "[0,4]", "[1]", "{\"t\":{", "}}"})
    @FuzzTest(maxDuration = "30s")
    void rawFile(byte[] bytes) {
        if (bytes == null) return;
        Path f = DIR.resolve("raw.safetensors");
        Outcomes.write(f, bytes);
        Outcomes.expectResultOrModelFormat(() -> readAll(f));
    }

    /** A header built from fuzzer-chosen fields (names, dtypes, shapes, offsets, metadata) plus a data area. */
    @FuzzTest(maxDuration = "30s")
    void structuredHeader(FuzzedDataProvider in) {
        ObjectNode root = JSON.createObjectNode();
        int tensors = in.consumeInt(0, 5);
        for (int t = 0; t < tensors; t++) {
            String name = in.consumeBoolean() ? "t" + t : in.consumeString(12);
            if (in.consumeInt(0, 15) == 0) {
                root.put(name, in.consumeString(8)); // entry that is not an object
                continue;
            }
            ObjectNode e = root.putObject(name);
            switch (in.consumeInt(0, 7)) {
                case 0 -> e.put("dtype", in.consumeInt());
                case 1 -> e.put("dtype", in.consumeString(6));
                case 2 -> { }
                default -> e.put("dtype", in.pickValue(DTYPES));
            }
            if (in.consumeInt(0, 15) != 0) {
                ArrayNode shape = e.putArray("shape");
                int rank = in.consumeInt(0, 10);
                for (int i = 0; i < rank; i++) addNumber(shape, in);
            } else if (in.consumeBoolean()) {
                e.put("shape", in.consumeString(4));
            }
            if (in.consumeInt(0, 15) != 0) {
                ArrayNode off = e.putArray("data_offsets");
                int n = in.consumeInt(0, 15) == 0 ? in.consumeInt(0, 3) : 2;
                for (int i = 0; i < n; i++) addNumber(off, in);
            }
        }
        if (in.consumeBoolean()) {
            ObjectNode meta = JSON.createObjectNode();
            int m = in.consumeInt(0, 3);
            for (int i = 0; i < m; i++) {
                if (in.consumeInt(0, 7) == 0) meta.put(in.consumeString(6), in.consumeLong());
                else meta.put(in.consumeString(6), in.consumeString(16));
            }
            root.set("__metadata__", in.consumeInt(0, 7) == 0 ? JSON.getNodeFactory().textNode("x") : meta);
        }
        byte[] header = root.toString().getBytes(StandardCharsets.UTF_8);
        int pad = in.consumeInt(0, 8);
        long declared = switch (in.consumeInt(0, 15)) {
            case 0 -> in.consumeLong();
            case 1 -> header.length + pad + in.consumeInt(-16, 16);
            default -> header.length + pad;
        };
        byte[] data = in.consumeRemainingAsBytes();
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + pad + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declared).put(header);
        for (int i = 0; i < pad; i++) b.put((byte) ' ');
        b.put(data);
        Path f = DIR.resolve("structured.safetensors");
        Outcomes.write(f, b.array());
        Outcomes.expectResultOrModelFormat(() -> readAll(f));
    }

    private static void addNumber(ArrayNode a, FuzzedDataProvider in) {
        switch (in.consumeInt(0, 9)) {
            case 0 -> a.add(in.consumeLong());
            case 1 -> a.add(in.pickValue(INTERESTING));
            case 2 -> a.add(in.consumeDouble());
            case 3 -> a.add(new java.math.BigInteger(1, in.consumeBytes(12)));
            case 4 -> a.add(in.consumeString(3));
            case 5 -> a.addNull();
            default -> a.add(in.consumeInt(0, 64));
        }
    }

    /** Accepted files never have two non-empty tensors sharing bytes (the header check promises it). */
    static void assertDisjoint(SafetensorsFile st) {
        java.util.List<TensorView> views = new java.util.ArrayList<>();
        for (String n : st.names()) if (st.get(n).segment().byteSize() > 0) views.add(st.get(n));
        for (int i = 0; i < views.size(); i++)
            for (int j = i + 1; j < views.size(); j++) {
                long a0 = views.get(i).segment().address(), a1 = a0 + views.get(i).segment().byteSize();
                long b0 = views.get(j).segment().address(), b1 = b0 + views.get(j).segment().byteSize();
                assertTrue(a1 <= b0 || b1 <= a0, "tensors " + views.get(i).name() + " and " + views.get(j).name() + " overlap");
            }
    }

    /** Opens and reads every tensor completely, in all the ways the engine reads tensors. */
    static void readAll(Path f) {
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            long size = st.fileSize();
            for (String n : st.names()) {
                TensorView t = st.get(n);
                long numel = t.numel();
                long bytes = numel * t.dtype().bytes();
                assertEquals(bytes, t.segment().byteSize(), "view size matches shape x dtype");
                assertTrue(bytes <= size - st.dataStart(), "view inside the data area");
                float[] all = t.toFloatArray();
                assertEquals(numel, all.length);
                for (long i = 0; i < numel; i++) {
                    float v = t.getFloat(i);
                    assertTrue(Float.compare(v, all[(int) i]) == 0 || (Float.isNaN(v) && Float.isNaN(all[(int) i])));
                    t.getLong(i);
                }
                if (!t.dtype().isFloating()) t.toLongArray();
                t.toString();
            }
            st.metadata().forEach((k, v) -> { });
            assertDisjoint(st);
        }
    }
}

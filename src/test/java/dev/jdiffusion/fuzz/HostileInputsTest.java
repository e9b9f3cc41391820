package dev.jdiffusion.fuzz;

import dev.jdiffusion.cli.Main;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.ShardedIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Hand-written hostile inputs for the bugs the fuzzers and the review found (readable twins of the crash files). */
class HostileInputsTest {
    @TempDir Path dir;

    @Test
    void vocabIdsOutsideIntRangeOrNegativeAreRefused() throws Exception {
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b\n");
        for (String id : new String[]{"4294967301", "-1", "1e3"}) {
            Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"<|startoftext|>\": 1, \"<|endoftext|>\": " + id + "}");
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir), id);
            assertTrue(e.getMessage().contains("<|endoftext|>"), e.getMessage());
        }
    }

    @Test
    void overlapBehindAnEmptyTensorIsRefused() throws Exception {
        String h = "{\"A\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"B\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                + "\"C\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        byte[] hb = h.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("overlap.safetensors");
        Files.write(f, ByteBuffer.allocate(8 + hb.length + 8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).put(hb).array());
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void shardNameWithNulIsAModelFormatError() throws Exception {
        Path idx = dir.resolve("model.safetensors.index.json");
        Files.writeString(idx, "{\"weight_map\": {\"w\": \"a\\u0000b.safetensors\"}}");
        assertThrows(ModelFormatException.class, () -> ShardedIndex.open(idx));
    }

    @Test
    void cliInfoWithANulInThePathIsAUsageError() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(new String[]{"info", "a\u0000b"}, new PrintStream(new ByteArrayOutputStream()), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, rc);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("not a valid path"), err.toString(StandardCharsets.UTF_8));
    }
}

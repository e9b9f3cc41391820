package dev.jdiffusion.weights;

import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShardedIndexTest {
    @TempDir Path dir;

    private void shard(String file, String... names) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : names) m.put(n, new Tensor(new float[]{n.length(), 1}, 2));
        SafetensorsWriter.write(dir.resolve(file), m, DType.F32, Map.of());
    }

    private Path index(String weightMapJson) throws IOException {
        Path p = dir.resolve("model.safetensors.index.json");
        Files.writeString(p, "{\"metadata\":{\"total_size\":0},\"weight_map\":" + weightMapJson + "}");
        return p;
    }

    private static void bad(Path index, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ShardedIndex.open(index).close());
        assertTrue(e.getMessage().contains(index.toString()), e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
    }

    @Test void opensShardsAsOneNamespace() throws IOException {
        shard("a.safetensors", "x", "y");
        shard("b.safetensors", "z");
        try (TensorSource s = ShardedIndex.open(index("{\"x\":\"a.safetensors\",\"y\":\"a.safetensors\",\"z\":\"b.safetensors\"}"))) {
            assertEquals(Set.of("x", "y", "z"), s.names());
            assertArrayEquals(new float[]{1, 1}, s.get("z").toFloatArray());
        }
    }

    @Test void missingShard() throws IOException {
        shard("a.safetensors", "x");
        bad(index("{\"x\":\"a.safetensors\",\"y\":\"gone.safetensors\"}"), "shard gone.safetensors is missing");
    }

    @Test void tensorNotInItsShard() throws IOException {
        shard("a.safetensors", "x");
        shard("aa.safetensors", "y");
        // y is in aa.safetensors, whose name ends with "a.safetensors": the check must not be a suffix test.
        bad(index("{\"x\":\"a.safetensors\",\"y\":\"a.safetensors\"}"), "tensor y is not in shard a.safetensors");
    }

    @Test void shardNamesMustBePlainFileNames() throws IOException {
        shard("a.safetensors", "x");
        for (String s : List.of("../a.safetensors", "sub/a.safetensors", "/tmp/a.safetensors", "..", ".", "", "a\\\\b"))
            bad(index("{\"x\":\"" + s + "\"}"), "tensor x", "bad shard");
        bad(index("{\"x\":5}"), "tensor x", "bad shard");
    }

    @Test void emptyOrMissingWeightMap() throws IOException {
        bad(index("{}"), "empty");
        Path p = dir.resolve("x.index.json");
        Files.writeString(p, "{\"metadata\":{}}");
        bad(p, "weight_map");
        Files.writeString(p, "{not json");
        bad(p, "not valid JSON");
    }

    @Test void duplicateTensorAcrossShards() throws IOException {
        shard("a.safetensors", "x");
        shard("b.safetensors", "x", "y");
        bad(index("{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"}"), "x appears in both");
    }
}

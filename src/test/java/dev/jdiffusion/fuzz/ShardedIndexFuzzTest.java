package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jdiffusion.weights.ShardedIndex;
import dev.jdiffusion.weights.TensorSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Fuzzes {@link ShardedIndex#open} on a folder holding two valid shards and a fuzzed
 * {@code *.safetensors.index.json}: the result is a source whose every tensor reads, or a
 * {@link dev.jdiffusion.weights.ModelFormatException}.
 */
class ShardedIndexFuzzTest {
    private static final Path DIR = Outcomes.tempDir("jd-fuzz-index");
    private static final String[] SHARDS = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "missing.safetensors", "..", ".", "../model-00001-of-00002.safetensors", "", "a\u0000b", "index.safetensors.index.json"};
    private static final String[] NAMES = {"a.weight", "b.bias", "c", "missing"};

    static {
        Outcomes.write(DIR.resolve(SHARDS[0]), TinySafetensors.f32("a.weight", 2, 3));
        Outcomes.write(DIR.resolve(SHARDS[1]), TinySafetensors.f32(java.util.Map.of("b.bias", new long[]{3}, "c", new long[]{})));
    }

    @FuzzTest(maxDuration = "30s")
    void indexJson(FuzzedDataProvider in) {
        String json;
        if (in.consumeBoolean()) {
            json = in.consumeRemainingAsString();
        } else {
            StringBuilder b = new StringBuilder("{\"metadata\":{\"total_size\":").append(in.consumeLong()).append("},\"weight_map\":{");
            int n = in.consumeInt(0, 6);
            for (int i = 0; i < n; i++) {
                if (i > 0) b.append(',');
                String name = in.consumeBoolean() ? in.pickValue(NAMES) : in.consumeString(8);
                b.append(quote(name)).append(':');
                switch (in.consumeInt(0, 7)) {
                    case 0 -> b.append(in.consumeInt());
                    case 1 -> b.append("null");
                    case 2 -> b.append(quote(in.consumeString(12)));
                    case 3 -> b.append("{\"x\":1}");
                    default -> b.append(quote(in.pickValue(SHARDS)));
                }
            }
            b.append("}}");
            json = b.toString();
        }
        Path idx = DIR.resolve("model.safetensors.index.json");
        Outcomes.write(idx, json.getBytes(StandardCharsets.UTF_8));
        Outcomes.expectResultOrModelFormat(() -> {
            try (TensorSource s = ShardedIndex.open(idx)) {
                for (String n : s.names()) s.get(n).toFloatArray();
                s.metadata();
            }
        });
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}

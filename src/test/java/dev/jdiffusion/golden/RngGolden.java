package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.sampling.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind {@code rng}: {@link TorchGenerator} against torch.randn / torch.rand for each entry of info.json.
 * Entries with a "draw" field are successive draws from one generator per (seed, key prefix); all others use a
 * fresh generator. Bit-exact.
 */
final class RngGolden implements GoldenKind {
    @Override
    public void run(Path caseDir, JsonNode info) {
        try (SafetensorsFile expected = SafetensorsFile.open(caseDir.resolve("expected.safetensors"))) {
            Map<String, TorchGenerator> sequences = new HashMap<>();
            int mismatched = 0;
            for (JsonNode e : info.path("entries")) {
                String key = e.path("key").asText();
                String fn = e.path("fn").asText();
                long seed = e.path("seed").asLong();
                int[] shape = new int[e.path("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = e.path("shape").get(i).asInt();
                TorchGenerator g;
                if (e.has("draw")) {
                    String seqKey = key.substring(0, key.lastIndexOf('.')) + "@" + seed;
                    g = sequences.computeIfAbsent(seqKey, k -> new TorchGenerator(seed));
                } else {
                    g = new TorchGenerator(seed);
                }
                Tensor actual = switch (fn) {
                    case "randn" -> g.randn(shape);
                    case "rand" -> g.rand(shape);
                    default -> throw new IllegalArgumentException("rng golden: unknown fn '" + fn + "' in " + key);
                };
                float[] want = expected.get(key).toFloatArray();
                float[] got = actual.data();
                int diff = 0, first = -1;
                for (int i = 0; i < want.length; i++)
                    if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                        if (first < 0) first = i;
                        diff++;
                    }
                System.out.printf("golden rng %-36s %s over %d values%n", key,
                        diff == 0 ? "bit-exact" : diff + " differ (first at " + first + ": expected " + want[first] + ", got " + got[first] + ")",
                        want.length);
                if (want.length != got.length || diff > 0) mismatched++;
            }
            if (mismatched > 0) fail("rng: " + mismatched + " entries not bit-exact");
        }
    }
}

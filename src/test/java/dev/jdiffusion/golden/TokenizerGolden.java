package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.weights.SafetensorsFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden kind {@code tokenizer}: every prompt of tokens.json must give exactly the reference's ids (unpadded),
 * and the padded rows of expected.safetensors (EOS padding as SD 1.x, 0 padding as SD 2.x) and lengths.
 * The vocabulary is the tiny-sd1 pipeline's tokenizer folder (the real CLIP vocabulary), then the CLIP vocabulary
 * bundled in the jar ({@link ClipTokenizer#bundled()}), which must give the same.
 */
final class TokenizerGolden implements GoldenKind {
    @Override
    public void run(Path caseDir, JsonNode info) {
        // The model folder's tokenizer and the one bundled in the jar (the default for models without one) alike.
        run(caseDir, ClipTokenizer.load(tokenizerDir(info)), "");
        run(caseDir, ClipTokenizer.bundled(), " (bundled)");
    }

    private static void run(Path caseDir, ClipTokenizer tok, String which) {
        JsonNode tokens = Golden.json(caseDir.resolve("tokens.json"));
        assertEquals(tokens.get("bos").asInt(), tok.bos(), "bos");
        assertEquals(tokens.get("eos").asInt(), tok.eos(), "eos");
        int ctx = tokens.path("context_length").asInt(77);
        JsonNode prompts = tokens.get("prompts");
        int n = prompts.size();
        long[] padEos = new long[n * ctx], pad0 = new long[n * ctx], lengths = new long[n];
        List<String> failures = new ArrayList<>();
        for (int p = 0; p < n; p++) {
            JsonNode pr = prompts.get(p);
            String text = pr.get("text").asText();
            int[] ids = tok.tokenize(text);
            long[] expected = new long[pr.get("ids").size()];
            for (int i = 0; i < expected.length; i++) expected[i] = pr.get("ids").get(i).asLong();
            long[] actual = new long[ids.length];
            for (int i = 0; i < ids.length; i++) actual[i] = ids[i];
            if (!java.util.Arrays.equals(expected, actual))
                failures.add(pr.get("name").asText() + ": expected " + java.util.Arrays.toString(expected) + " got "
                        + java.util.Arrays.toString(actual) + " bpe " + String.join(" ", tok.bpeSymbols(text)));
            int[] a = tok.encode(text, ctx, tok.eos()), b = tok.encode(text, ctx, 0);
            for (int i = 0; i < ctx; i++) {
                padEos[p * ctx + i] = a[i];
                pad0[p * ctx + i] = b[i];
            }
            lengths[p] = Math.min(ids.length, ctx - 2) + 2;
        }
        System.out.printf("golden %-48s %d of %d prompts exact%n", "tokenizer ids" + which, n - failures.size(), n);
        failures.forEach(f -> System.out.println("  MISMATCH " + f));
        assertTrue(failures.isEmpty(), failures.size() + " prompts differ; first: " + (failures.isEmpty() ? "" : failures.get(0)));
        try (SafetensorsFile exp = SafetensorsFile.open(caseDir.resolve("expected.safetensors"))) {
            Golden.compareExact("tokenizer input_ids (pad EOS)" + which, exp.get("input_ids").toLongArray(), padEos);
            Golden.compareExact("tokenizer input_ids_pad0" + which, exp.get("input_ids_pad0").toLongArray(), pad0);
            Golden.compareExact("tokenizer lengths" + which, exp.get("lengths").toLongArray(), lengths);
        }
    }

    /** The tokenizer folder: info.json's "tokenizer" if given, else the first models/*&#47;tokenizer folder. */
    static Path tokenizerDir(JsonNode info) {
        if (info.hasNonNull("tokenizer")) return Golden.resolve(info.get("tokenizer").asText());
        Path preferred = Golden.resolve("models/tiny-sd1/tokenizer");
        if (Files.isRegularFile(preferred.resolve("vocab.json"))) return preferred;
        try (var s = Files.list(Golden.resolve("models"))) {
            return s.map(d -> d.resolve("tokenizer")).filter(d -> Files.isRegularFile(d.resolve("vocab.json"))).sorted()
                    .findFirst().orElseThrow(() -> new AssertionError("no models/*/tokenizer folder in the golden set"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

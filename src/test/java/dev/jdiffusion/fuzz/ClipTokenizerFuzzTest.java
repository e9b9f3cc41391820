package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.model.clip.ClipTokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Fuzzes the CLIP tokenizer: {@link ClipTokenizer#encode} on any text must return {@code maxLength} ids,
 * BOS first, then ids, one EOS, then only padding, and never throw; loading a tokenizer folder with fuzzed
 * {@code vocab.json} / {@code merges.txt} / configs must give a working tokenizer or a
 * {@link dev.jdiffusion.weights.ModelFormatException}.
 */
class ClipTokenizerFuzzTest {
    private static ClipTokenizer golden;
    private static final Path DIR = Outcomes.tempDir("jd-fuzz-tok");

    private static synchronized ClipTokenizer golden() {
        if (golden == null) {
            Path d = Golden.resolve("models/tiny-sd1/tokenizer");
            assumeTrue(Files.isRegularFile(d.resolve("vocab.json")), "golden tokenizer not available");
            golden = ClipTokenizer.load(d);
        }
        return golden;
    }

    @FuzzTest(maxDuration = "30s")
    void encode(byte[] input) {
        if (input == null) return;
        String text = Outcomes.text(input);
        ClipTokenizer t = golden();
        Outcomes.expectResultOrDocumented(() -> checkEncoding(t, t.encode(text)));
    }

    private static ReferenceBpe reference;

    /**
     * Differential: the engine's heap-based BPE against the textbook loop ({@link ReferenceBpe}) on one word
     * made of letters (a pre-token of its own), with the golden merges.
     */
    @FuzzTest(maxDuration = "30s")
    void bpeMatchesReference(byte[] input) {
        if (input == null) return;
        ClipTokenizer t = golden();
        synchronized (ClipTokenizerFuzzTest.class) {
            if (reference == null) reference = new ReferenceBpe(Golden.resolve("models/tiny-sd1/tokenizer/merges.txt"));
        }
        String alphabet = "abcdeilnorstthaeinosßéжя";
        StringBuilder w = new StringBuilder();
        for (int i = 0; i < Math.min(input.length, 300); i++) w.append(alphabet.charAt((input[i] & 0xff) % alphabet.length()));
        if (w.isEmpty()) return;
        String word = w.toString();
        assertEquals(reference.bpe(word), java.util.List.of(t.bpeSymbols(word)), word);
    }

    static void checkEncoding(ClipTokenizer t, int[] ids) {
        assertEquals(t.maxLength(), ids.length);
        assertEquals(t.bos(), ids[0]);
        // Text may itself contain "<|endoftext|>" (mapped to EOS, as transformers does): check the end instead.
        int k = ids.length - 1;
        if (t.padId() != t.eos()) while (k > 1 && ids[k] == t.padId()) k--;
        assertEquals(t.eos(), ids[k], "EOS closes the ids, only padding follows");
    }

    private static final String BASE_VOCAB = """
            {"a": 0, "b": 1, "c": 2, "a</w>": 3, "b</w>": 4, "c</w>": 5, "ab": 6, "ab</w>": 7,
             "<|startoftext|>": 8, "<|endoftext|>": 9, "!": 10""";

    @FuzzTest(maxDuration = "30s")
    void loadFolder(FuzzedDataProvider in) {
        Outcomes.clear(DIR);
        String vocab = switch (in.consumeInt(0, 3)) {
            case 0 -> in.consumeString(300);
            case 1 -> BASE_VOCAB + "}";
            default -> BASE_VOCAB + ", " + ShardedIndexFuzzTest.quote(in.consumeString(10)) + ": " + in.consumeLong() + "}";
        };
        String merges = in.consumeBoolean() ? "#version: 0.2\na b\n" + in.consumeString(100) : in.consumeString(100);
        Outcomes.write(DIR.resolve("vocab.json"), vocab.getBytes(StandardCharsets.UTF_8));
        Outcomes.write(DIR.resolve("merges.txt"), merges.getBytes(StandardCharsets.UTF_8));
        if (in.consumeBoolean()) {
            String cfg = in.consumeBoolean() ? "{\"model_max_length\": " + in.consumeLong() + ", \"pad_token\": "
                    + ShardedIndexFuzzTest.quote(in.pickValue(new String[]{"!", "<|endoftext|>", "zz", ""})) + "}" : in.consumeString(80);
            Outcomes.write(DIR.resolve("tokenizer_config.json"), cfg.getBytes(StandardCharsets.UTF_8));
        }
        if (in.consumeBoolean())
            Outcomes.write(DIR.resolve("special_tokens_map.json"), in.consumeString(80).getBytes(StandardCharsets.UTF_8));
        String text = in.consumeRemainingAsString();
        Outcomes.expectResultOrModelFormat(() -> {
            ClipTokenizer t = ClipTokenizer.load(DIR);
            checkEncoding(t, t.encode(text));
            t.bpeSymbols(text);
        });
    }
}

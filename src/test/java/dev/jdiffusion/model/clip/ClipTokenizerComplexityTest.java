package dev.jdiffusion.model.clip;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.IntFunction;
import java.util.regex.Matcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tokenizer's work grows linearly with the input, counted, not timed: the pre-tokenizer's character reads (a
 * {@link CharSequence} that counts {@code charAt}) and the BPE's merge-table lookups (a rank map that counts
 * {@code get}; each heap push and each merge does one) for inputs of n and 2n characters. Linear work doubles;
 * the textbook BPE loop (quadratic in a word's length) or a backtracking pre-tokenizer would quadruple it. The
 * inputs are the long-input fuzz family's worst cases ({@code LongInputsTest}): one huge word, of one letter or of
 * varying letters, a huge number, a punctuation run.
 */
class ClipTokenizerComplexityTest {
    /** Most the work may grow when the input doubles: 2 for linear work, with room for boundary effects. */
    static final double MAX_GROWTH = 2.3;
    static final int N = 1 << 14;
    static ClipTokenizer tok;

    @BeforeAll static void load() {
        Path d = Golden.resolve("models/tiny-sd1/tokenizer");
        assumeTrue(Files.isRegularFile(d.resolve("vocab.json")), "golden tokenizer not available");
        tok = ClipTokenizer.load(d);
    }

    /** A string whose character reads are counted. */
    static final class CountingChars implements CharSequence {
        final String s;
        long reads;

        CountingChars(String s) { this.s = s; }

        @Override public int length() { return s.length(); }
        @Override public char charAt(int i) { reads++; return s.charAt(i); }
        @Override public CharSequence subSequence(int a, int b) { reads += b - a; return s.substring(a, b); }
        @Override public String toString() { reads += s.length(); return s; }
    }

    /** A rank map whose lookups are counted. */
    static final class CountingRanks extends AbstractMap<String, Integer> {
        final Map<String, Integer> ranks;
        long lookups;

        CountingRanks(Map<String, Integer> ranks) { this.ranks = ranks; }

        @Override public Integer get(Object k) { lookups++; return ranks.get(k); }
        @Override public Set<Entry<String, Integer>> entrySet() { return ranks.entrySet(); }
    }

    /** Character reads of the pre-tokenizer over text, and the number of pre-tokens it finds. */
    static long[] preTokenizerWork(String text) {
        CountingChars c = new CountingChars(text);
        Matcher m = ClipTokenizer.PRE_TOKEN.matcher(c);
        long pieces = 0;
        while (m.find()) pieces++;
        return new long[]{c.reads, pieces};
    }

    /**
     * The BPE's work over every pre-token of text (uncached): one per call plus its merge-table lookups; and the
     * symbols it gives.
     */
    static long[] bpeWork(String text) {
        CountingRanks ranks = new CountingRanks(tok.mergeRanks());
        ClipBpe bpe = new ClipBpe(tok.vocabulary(), ranks, 0);
        Matcher m = ClipTokenizer.PRE_TOKEN.matcher(text);
        long symbols = 0, calls = 0;
        while (m.find()) {
            symbols += bpe.bpe(m.group()).size();
            calls++;
        }
        return new long[]{calls + ranks.lookups, symbols};
    }

    static void linear(String name, IntFunction<String> input) {
        String a = input.apply(N), b = input.apply(2 * N);
        assertEquals(N, a.length(), name);
        assertEquals(2 * N, b.length(), name);
        long[] preA = preTokenizerWork(a), preB = preTokenizerWork(b), bpeA = bpeWork(a), bpeB = bpeWork(b);
        double pre = (double) preB[0] / preA[0], merge = (double) bpeB[0] / bpeA[0];
        System.out.printf("tokenizer work %-22s n=%d: %d char reads, %d BPE calls + rank lookups; 2n: x%.2f, x%.2f%n",

                name, N, preA[0], bpeA[0], pre, merge);
        assertTrue(preA[0] >= N && bpeA[0] > 0, name + ": the counters saw the work");
        assertTrue(pre <= MAX_GROWTH, name + ": the pre-tokenizer's reads grew x" + pre + " for twice the input");
        assertTrue(merge <= MAX_GROWTH, name + ": the BPE's lookups grew x" + merge + " for twice the input");
        // and the tokenizer itself gives as many ids as the BPE's symbols (the counted path is the real one)
        assertEquals(bpeA[1], tok.tokenize(a).length, name);
    }

    @Test void oneHugeWord() { linear("one huge word", n -> "a".repeat(n)); }

    @Test void oneHugeWordOfVaryingLetters() {
        linear("varying letters", n -> {
            StringBuilder b = new StringBuilder();
            Random r = new Random(1);
            for (int i = 0; i < n; i++) b.append((char) ('a' + r.nextInt(26)));
            return b.toString();
        });
    }

    @Test void hugeNumber() { linear("huge number", n -> "9".repeat(n)); }

    @Test void punctuationRun() { linear("punctuation run", n -> "!?.,;:-#".repeat(n / 8)); }
}

package dev.jdiffusion.fuzz;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.model.clip.ClipTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Inputs longer than the fuzzer makes (it stays under 4 KiB): the tokenizer must encode a huge prompt correctly,
 * whatever its shape (one giant word, many words, punctuation runs, random unicode), since only 75 ids are kept.
 * That its work grows linearly is checked by counting it ({@code ClipTokenizerComplexityTest}: the former quadratic
 * BPE loop quadrupled its work for twice the word), not by the clock; the watchdog here only catches a real hang,
 * as the fuzz contract's does, with a margin no loaded machine comes near.
 */
class LongInputsTest {
    private static ClipTokenizer tok;

    @BeforeAll
    static void load() {
        Path d = Golden.resolve("models/tiny-sd1/tokenizer");
        assumeTrue(Files.isRegularFile(d.resolve("vocab.json")), "golden tokenizer not available");
        tok = ClipTokenizer.load(d);
    }

    private static void encodesWithoutHanging(String text) {
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> tok.encode(text), "hung");

        ClipTokenizerFuzzTest.checkEncoding(tok, ids);
    }

    @Test void oneHugeWord() { encodesWithoutHanging("a".repeat(1 << 18)); }

    @Test void oneHugeWordOfVaryingLetters() {
        StringBuilder b = new StringBuilder();
        Random r = new Random(1);
        for (int i = 0; i < 1 << 16; i++) b.append((char) ('a' + r.nextInt(26)));
        encodesWithoutHanging(b.toString());
    }

    @Test void manyWords() { encodesWithoutHanging("a photo of a cat ".repeat(1 << 14)); }

    @Test void punctuationRun() { encodesWithoutHanging("!?.,;:-".repeat(1 << 15)); }

    @Test void hugeNumber() { encodesWithoutHanging("9".repeat(1 << 18)); }

    @Test void randomUnicode() {
        StringBuilder b = new StringBuilder();
        Random r = new Random(2);
        for (int i = 0; i < 1 << 17; i++) b.append((char) r.nextInt(0x10000));
        encodesWithoutHanging(b.toString());
    }

    @Test void htmlEntitiesAndWhitespace() { encodesWithoutHanging("&amp;&#x41;&lt; \t\n".repeat(1 << 14)); }
}

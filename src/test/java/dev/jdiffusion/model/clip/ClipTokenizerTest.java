package dev.jdiffusion.model.clip;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.weights.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Tokenizer behaviour beyond the golden ids: padding, truncation, config, errors, concurrency. */
class ClipTokenizerTest {
    static Path vocabDir() {
        Path d = Golden.resolve("models/tiny-sd1/tokenizer");
        assumeTrue(Files.isRegularFile(d.resolve("vocab.json")), "golden tokenizer not available");
        return d;
    }

    @Test
    void encodePadsWithConfiguredPadAndKeepsEosLastWhenTruncating() {
        ClipTokenizer t = ClipTokenizer.load(vocabDir());
        assertEquals(49406, t.bos());
        assertEquals(49407, t.eos());
        assertEquals(49407, t.padId()); // SD 1.x: pad_token is <|endoftext|>
        assertEquals(77, t.maxLength());
        int[] e = t.encode("a photo of a cat");
        assertEquals(77, e.length);
        assertArrayEquals(new int[]{49406, 320, 1125, 539, 320, 2368, 49407, 49407}, Arrays.copyOf(e, 8));
        String many = "cat ".repeat(100);
        assertEquals(100, t.tokenize(many).length);
        int[] trunc = t.encode(many);
        assertEquals(77, trunc.length);
        assertEquals(49406, trunc[0]);
        assertEquals(49407, trunc[76]);
        assertEquals(2368, trunc[75]);
        int[] short4 = t.encode("a photo of a cat", 4, 0);
        assertArrayEquals(new int[]{49406, 320, 1125, 49407}, short4);
        assertArrayEquals(new int[]{49406, 49407, 0, 0}, t.encode("", 4, 0));
        assertThrows(IllegalArgumentException.class, () -> t.encode("x", 1, 0));
    }

    @Test
    void padTokenFromSpecialTokensMap(@TempDir Path dir) throws Exception {
        Path src = vocabDir();
        Files.copy(src.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(src.resolve("merges.txt"), dir.resolve("merges.txt"));
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}");
        ClipTokenizer t = ClipTokenizer.load(dir);
        assertEquals(0, t.padId()); // SD 2.x
        int[] e = t.encode("cat");
        assertEquals(49407, e[2]);
        assertEquals(0, e[3]);
        assertEquals(0, e[76]);
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"<nope>\"}");
        ModelFormatException ex = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(ex.getMessage().contains("<nope>"), ex.getMessage());
    }

    /** The CLIP vocabulary bundled in the jar is the golden tiny-sd1 tokenizer's: same ids, same merges in order. */
    @Test
    void bundledVocabularyIsTheGoldenTokenizers() throws Exception {
        Path d = vocabDir();
        ClipTokenizer golden = ClipTokenizer.load(d), bundled = ClipTokenizer.bundled();
        assertSameMap(golden.vocabulary(), bundled.vocabulary(), "vocabulary");
        assertSameMap(golden.mergeRanks(), bundled.mergeRanks(), "merges");
        assertEquals(Files.readAllLines(d.resolve("merges.txt")).stream().filter(l -> !l.isEmpty() && !l.startsWith("#version")).count(),
                bundled.mergeRanks().size(), "every merge of merges.txt");
        assertEquals(golden.bos(), bundled.bos());
        assertEquals(golden.eos(), bundled.eos());
        assertEquals(golden.padId(), bundled.padId()); // SD 1.x: EOS
        assertEquals(77, bundled.maxLength());
        assertEquals(0, ClipTokenizer.bundled("!").padId()); // SD 2.x / OpenCLIP
        assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.bundled("<nope>"));
        String prompt = "A (cozy:1.2) cabin, snowy woods -- warm light!!";
        assertArrayEquals(golden.encode(prompt), bundled.encode(prompt));
    }

    private static void assertSameMap(java.util.Map<String, Integer> expected, java.util.Map<String, Integer> actual, String what) {
        assertEquals(expected.size(), actual.size(), what + " size");
        for (var e : expected.entrySet())
            assertEquals(e.getValue(), actual.get(e.getKey()), what + ": " + e.getKey());
    }

    @Test
    void missingFilesSayHowToGetATokenizer(@TempDir Path dir) {
        ModelFormatException ex = assertThrows(ModelFormatException.class, () -> ClipTokenizer.load(dir));
        assertTrue(ex.getMessage().contains("vocab.json"), ex.getMessage());
        assertTrue(ex.getMessage().contains("--tokenizer"), ex.getMessage());
    }

    @Test
    void concurrentTokenizingAgreesWithSequential() {
        ClipTokenizer t = ClipTokenizer.load(vocabDir());
        List<String> prompts = IntStream.range(0, 200).mapToObj(i -> "prompt number " + i + " with words w" + (i % 17) + " café ✨").toList();
        List<int[]> seq = prompts.stream().map(t::encode).toList();
        List<int[]> par = prompts.parallelStream().map(t::encode).toList();
        for (int i = 0; i < prompts.size(); i++) assertArrayEquals(seq.get(i), par.get(i), prompts.get(i));
    }

    @Test
    void bpeSymbolsCarryWordEnds() {
        ClipTokenizer t = ClipTokenizer.load(vocabDir());
        assertArrayEquals(new String[]{"a</w>", "photo</w>"}, t.bpeSymbols("A  Photo"));
    }

    @Test
    void cleanerFollowsClipBasicClean() {
        assertEquals("salt & pepper", ClipTextCleaner.clean("salt &amp;amp; pepper"));
        assertEquals("a <b> & c", ClipTextCleaner.clean("a <b> &amp; c"));
        assertEquals("'single' \"double\"", ClipTextCleaner.clean("&#39;single&#39; &quot;double&quot;"));
        assertEquals("café naïve", ClipTextCleaner.clean("cafÃ© naÃ¯ve"));
        assertEquals("café", ClipTextCleaner.clean("cafe\u0301"));
        assertEquals("fine flow", ClipTextCleaner.clean("\ufb01ne \ufb02ow"));
        assertEquals("abc 123", ClipTextCleaner.clean("\uff21\uff22\uff23\u3000\uff11\uff12\uff13"));
        assertEquals("the 'best' \"photo\"", ClipTextCleaner.clean("the \u2018best\u2019 \u201cphoto\u201d"));
        assertEquals("a b c", ClipTextCleaner.clean("  a\u00a0\tb\n\r\nc  "));
        assertEquals("zero\u200bwidth", ClipTextCleaner.clean("zero\u200bwidth"));
        assertEquals("red", ClipTextCleaner.clean("\u001b[31mred"));
        assertEquals("x\u20acy", ClipTextCleaner.clean("x&#128;y"));
        assertEquals("", ClipTextCleaner.clean(" \t\n"));
        assertEquals("it's", ClipTextCleaner.clean("it\u00e2\u20ac\u2122s")); // mojibake of a curly apostrophe
        assertEquals("a & b", ClipTextCleaner.clean("a &amp;amp;amp;amp; b")); // ftfy repeats until stable
        assertEquals("<i> &amp;", ClipTextCleaner.clean("<i>\n&amp;amp;amp;")); // no ftfy unescape after a '<'
        assertEquals("x & y", ClipTextCleaner.clean("x &amp y")); // html.unescape takes legacy names without ';'

    }
}

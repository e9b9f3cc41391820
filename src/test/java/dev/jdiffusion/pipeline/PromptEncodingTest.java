package dev.jdiffusion.pipeline;

import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.jdiffusion.pipeline.TinyModels.small;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prompt embeddings as the pipeline builds them: 75-token chunks, A1111 weights, exact plain prompts. */
class PromptEncodingTest {
    static StableDiffusion sd;

    @BeforeAll static void load() { sd = StableDiffusion.load(TinyModels.sd1()); }

    @AfterAll static void close() { sd.close(); }

    /** The embeddings a 1-step run hands to the U-Net. */
    static Tensor embeddings(GenerationRequest.Builder b) {
        Tensor[] e = new Tensor[1];
        sd.generate(b.steps(1).size(32, 32).build(), null, null, new StableDiffusion.StepTrace() {
            @Override public void onStep(int step, Tensor in, Tensor out, Tensor latents, Tensor denoised) {}

            @Override public void onEmbeddings(Tensor embeddings) { e[0] = embeddings; }
        });
        return e[0];
    }

    static String words(int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(i == 0 ? "" : " ").append(i % 2 == 0 ? "cat" : "house");
        return sb.toString();
    }

    static float[] row(Tensor t, int n) {
        int per = t.numel() / t.dim(0);
        return Arrays.copyOfRange(t.data(), n * per, (n + 1) * per);
    }

    @Test void longPromptsTakeTwoChunksAndTheNegativeIsPaddedToMatch() {
        ClipTokenizer tok = sd.components().tokenizer();
        String longPrompt = words(100);
        assertEquals(100, tok.tokenize(longPrompt).length, "the test prompt should be 100 tokens");
        int hidden = sd.components().textEncoder().config().hiddenSize();
        // CFG: [negative, positive], both 2 chunks of 77
        Tensor e = embeddings(small(longPrompt, 1).guidanceScale(7.5f).negativePrompt("blurry"));
        assertArrayEquals(new int[]{2, 154, hidden}, e.shape());
        // no CFG: the positive alone
        assertArrayEquals(new int[]{1, 154, hidden}, embeddings(small(longPrompt, 1).guidanceScale(1f)).shape());
        // a short prompt with a long negative: both padded to 2 chunks
        assertArrayEquals(new int[]{2, 154, hidden}, embeddings(small("cat", 1).guidanceScale(7.5f).negativePrompt(longPrompt)).shape());
        // exactly 75 tokens is one chunk, 76 is two
        assertArrayEquals(new int[]{1, 77, hidden}, embeddings(small(words(75), 1).guidanceScale(1f)).shape());
        assertArrayEquals(new int[]{1, 154, hidden}, embeddings(small(words(76), 1).guidanceScale(1f)).shape());
        // batch 2 with CFG: [neg, neg, pos, pos]
        assertArrayEquals(new int[]{4, 154, hidden}, embeddings(small(longPrompt, 1).batch(2).guidanceScale(7.5f)).shape());
    }

    @Test void longPromptsRunEndToEnd() {
        GenerationResult r = sd.generate(small(words(160), 3).steps(2).negativePrompt(words(80)).build());
        TinyModels.assertImages(r.images(), 1, 64, 64);
    }

    @Test void aShortPlainPromptGivesTheTokenizersEmbeddingExactly() {
        for (String p : new String[]{"a photo of an astronaut riding a horse on mars", "", words(75)}) {
            Tensor ours = embeddings(small(p, 1).guidanceScale(1f));
            int[] ids = sd.components().tokenizer().encode(p);
            Tensor ref = sd.components().textEncoder().encode(new int[][]{ids}, 1);
            assertArrayEquals(ref.shape(), ours.shape(), p);
            assertArrayEquals(ref.data(), ours.data(), "embedding of '" + p + "'");
        }
    }

    @Test void weightsChangeTheEmbedding() {
        Tensor plain = embeddings(small("a cat on a mat", 1).guidanceScale(1f));
        Tensor weighted = embeddings(small("a (cat:1.5) on a mat", 1).guidanceScale(1f));
        Tensor neutral = embeddings(small("a (cat:1.0) on a mat", 1).guidanceScale(1f));
        Tensor lighter = embeddings(small("a [cat] on a mat", 1).guidanceScale(1f));
        assertArrayEquals(plain.shape(), weighted.shape());
        assertFalse(Arrays.equals(plain.data(), weighted.data()), "(cat:1.5) gives the plain embedding");
        assertFalse(Arrays.equals(plain.data(), lighter.data()), "[cat] gives the plain embedding");
        assertFalse(Arrays.equals(weighted.data(), lighter.data()));
        // weight 1 is the same tokens with neutral weights: the plain embedding up to float rounding
        assertEquals(0, TinyModels.maxDiff(plain, neutral), 1e-5);
        // A1111 restores the mean after weighting
        assertEquals(mean(plain.data()), mean(weighted.data()), 1e-4 * (1 + Math.abs(mean(plain.data()))));
        // the weighted run generates
        TinyModels.assertImages(sd.generate(small("a (cat:1.5) on a [mat]", 1).steps(2).build()).images(), 1, 64, 64);
    }

    @Test void escapedBracketsAreLiteralText() {
        Tensor escaped = embeddings(small("a \\(cat\\) on a mat", 1).guidanceScale(1f));
        int[] ids = sd.components().tokenizer().encode("a (cat) on a mat");
        Tensor ref = sd.components().textEncoder().encode(new int[][]{ids}, 1);
        assertArrayEquals(ref.data(), escaped.data(), "\\( \\) should encode as literal brackets");
    }

    @Test void breakStartsANewChunk() {
        int hidden = sd.components().textEncoder().config().hiddenSize();
        Tensor e = embeddings(small("a cat BREAK a dog", 1).guidanceScale(1f));
        assertArrayEquals(new int[]{1, 154, hidden}, e.shape());
        // chunk 2 encodes "a dog" alone
        Tensor dog = sd.components().textEncoder().encode(new int[][]{sd.components().tokenizer().encode("a dog")}, 1);
        float[] second = Arrays.copyOfRange(e.data(), 77 * hidden, 154 * hidden);
        assertArrayEquals(dog.data(), second);
    }

    @Test void clipSkipUsesAnEarlierLayer() {
        Tensor last = embeddings(small("a cat", 1).guidanceScale(1f));
        Tensor skip = embeddings(small("a cat", 1).guidanceScale(1f).clipSkip(2));
        assertFalse(Arrays.equals(last.data(), skip.data()));
        assertTrue(sd.generate(small("a cat", 1).clipSkip(2).steps(1).build()).parameters().contains("Clip skip: 2"));
    }

    private static double mean(float[] a) {
        double s = 0;
        for (float v : a) s += v;
        return s / a.length;
    }
}

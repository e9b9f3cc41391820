package dev.jdiffusion.pipeline;

import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.pipeline.prompt.PromptWeights;
import dev.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns prompts into text embeddings the way the popular UIs do: the prompt's tokens are split into chunks of
 * 75, each chunk is encoded as BOS + 75 tokens + EOS (padded), and the chunks' embeddings are concatenated
 * along the sequence. Weighted parts ({@code (word:1.3)}, {@code (word)}, {@code [word]}) scale their tokens'
 * embeddings, after which the chunk's mean is restored. A prompt of at most 75 tokens without weights gives
 * exactly the reference pipeline's embedding.
 */
final class PromptEncoder implements Conditioner {
    private final ClipTokenizer tokenizer;
    private final ClipTextEncoder encoder;
    private final int chunk;

    PromptEncoder(ClipTokenizer tokenizer, ClipTextEncoder encoder) {
        this.tokenizer = tokenizer;
        this.encoder = encoder;
        this.chunk = tokenizer.maxLength() - 2;
    }

    /** The token rows' length (77). */
    int maxLength() { return tokenizer.maxLength(); }

    /** Tokens with a weight each. */
    record Weighted(int[] ids, float[] weights) {
        int chunks(int chunk) { return Math.max(1, (ids.length + chunk - 1) / chunk); }
    }

    Weighted tokenize(String prompt) {
        List<PromptWeights.Fragment> parts = PromptWeights.parse(prompt);
        List<Integer> ids = new ArrayList<>();
        List<Float> ws = new ArrayList<>();
        boolean plain = parts.size() <= 1 && (parts.isEmpty() || (parts.get(0).weight() == 1.0 && !parts.get(0).isBreak()));
        if (plain) {
            // Unweighted text is tokenized whole, exactly as the reference pipelines do. The parsed text, not the
            // raw prompt: "(cat:1.0)" is "cat" and "\(cat\)" is "(cat)".
            for (int id : tokenizer.tokenize(parts.isEmpty() ? prompt : parts.get(0).text())) {
                ids.add(id);
                ws.add(1f);
            }
        } else {
            for (PromptWeights.Fragment f : parts) {
                if (f.isBreak()) {
                    // BREAK: pad the current chunk so the next text starts a new one.
                    while (ids.size() % chunk != 0) {
                        ids.add(tokenizer.padId());
                        ws.add(1f);
                    }
                    continue;
                }
                for (int id : tokenizer.tokenize(f.text())) {
                    ids.add(id);
                    ws.add((float) f.weight());
                }
            }
        }
        int[] a = new int[ids.size()];
        float[] w = new float[ids.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = ids.get(i);
            w[i] = ws.get(i);
        }
        return new Weighted(a, w);
    }

    /**
     * The chunk count the prompts are padded to (at least minChunks); throws an IllegalArgumentException naming the
     * prompt when one is longer than {@link GenerationRequest#MAX_PROMPT_CHUNKS} chunks. Cheap: tokenizes only.
     */
    @Override
    public int chunks(List<String> prompts, int minChunks) {
        int chunks = Math.max(1, minChunks);
        for (String p : prompts) chunks = Math.max(chunks, checked(p, tokenize(p)).chunks(chunk));
        return chunks;
    }

    private Weighted checked(String prompt, Weighted w) {
        int max = GenerationRequest.MAX_PROMPT_CHUNKS;
        if (w.chunks(chunk) > max) {
            String head = prompt.length() > 40 ? prompt.substring(0, 40) + "..." : prompt;
            throw new IllegalArgumentException("prompt \"" + head + "\" is " + w.ids.length + " tokens (" + w.chunks(chunk)
                    + " chunks of " + chunk + "); at most " + max + " chunks (" + max * chunk + " tokens) are accepted: shorten it");
        }
        return w;
    }

    /**
     * The token rows of the prompts, each padded to the same chunk count (at least minChunks): row p * chunks + c is
     * chunk c of prompt p, BOS + up to 75 tokens + EOS, padded to maxLength, with a weight per position.
     */
    record Rows(int[][] ids, float[][] weights, int prompts, int chunks) {}

    Rows rows(List<String> prompts, int minChunks) {
        List<Weighted> toks = new ArrayList<>();
        int chunks = Math.max(1, minChunks);
        for (String p : prompts) {
            Weighted w = checked(p, tokenize(p));
            toks.add(w);
            chunks = Math.max(chunks, w.chunks(chunk));
        }
        int len = tokenizer.maxLength();
        int n = prompts.size();
        int[][] ids = new int[n * chunks][];
        float[][] weights = new float[n * chunks][];
        for (int p = 0; p < n; p++) {
            Weighted w = toks.get(p);
            for (int c = 0; c < chunks; c++) {
                int[] row = new int[len];
                float[] wr = new float[len];
                java.util.Arrays.fill(row, tokenizer.padId());
                java.util.Arrays.fill(wr, 1f);
                row[0] = tokenizer.bos();
                int from = c * chunk, to = Math.min(w.ids.length, from + chunk);
                int k = 1;
                for (int i = from; i < to; i++, k++) {
                    row[k] = w.ids[i];
                    wr[k] = w.weights[i];
                }
                row[k] = tokenizer.eos();
                ids[p * chunks + c] = row;
                weights[p * chunks + c] = wr;
            }
        }
        return new Rows(ids, weights, n, chunks);
    }

    /** Applies the rows' weights to per-row embeddings [rows, maxLength, hidden] and views them as [prompts, chunks * maxLength, hidden]. */
    Tensor weighted(Rows rows, Tensor z) {
        int len = tokenizer.maxLength(), hidden = z.dim(2);
        float[] d = z.data();
        for (int r = 0; r < rows.ids().length; r++) applyWeights(d, r * len * hidden, len, hidden, rows.weights()[r]);
        return new Tensor(d, rows.prompts(), rows.chunks() * len, hidden);
    }

    /**
     * Encodes each prompt to [chunks * maxLength, hidden]; all prompts are padded to the same chunk count
     * (at least minChunks) and returned as one [prompts.size(), chunks * maxLength, hidden] tensor.
     */
    @Override
    public Conditioning encode(List<String> prompts, int clipSkip, int minChunks) {
        Rows rows = rows(prompts, minChunks);
        return new Conditioning(weighted(rows, encoder.encode(rows.ids(), clipSkip)), null);
    }

    /** Scales token rows by their weights and restores the original mean, as the A1111 UI does. */
    static void applyWeights(float[] z, int off, int len, int hidden, float[] w) {
        boolean any = false;
        for (float x : w) any |= x != 1f;
        if (!any) return;
        double before = 0, after = 0;
        for (int i = 0; i < len * hidden; i++) before += z[off + i];
        for (int t = 0; t < len; t++)
            for (int h = 0; h < hidden; h++) z[off + t * hidden + h] *= w[t];
        for (int i = 0; i < len * hidden; i++) after += z[off + i];
        if (after == 0) return;
        float s = (float) (before / after);
        for (int i = 0; i < len * hidden; i++) z[off + i] *= s;
    }
}

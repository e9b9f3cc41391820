package dev.jdiffusion.pipeline;

import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * SDXL's conditioning, as diffusers' {@code StableDiffusionXLPipeline.encode_prompt} computes it: each encoder's
 * penultimate hidden state (not through the final layer norm), concatenated on the feature axis (encoder 1 first),
 * is the context; the second encoder's pooled output through its text projection is {@code text_embeds}. The
 * refiner has only the second encoder (encoder 1 null): its penultimate state alone is the context.
 *
 * <p>Long prompts are chunked by 75 tokens for both encoders alike (their tokenizers share the vocabulary and differ
 * only in padding) and weights apply per encoder, as {@link PromptEncoder} does for SD 1.x; the pooled embedding is
 * the first chunk's. A null prompt stands for "no prompt" and gives zeros (diffusers' {@code
 * force_zeros_for_empty_prompt} for a negative prompt that is not given).
 */
public final class SdxlConditioner implements Conditioner {
    private final ClipTextEncoder encoder1, encoder2;
    private final PromptEncoder prompts1, prompts2;

    /**
     * For golden tests and tools: encoders only, so only {@link #encodeIds} works (prompts need the tokenizers).
     *
     * @param encoder1 the first text encoder (CLIP ViT-L), or null for the refiner
     * @param encoder2 the second text encoder (OpenCLIP ViT-bigG, with its projection); required
     * @throws IllegalArgumentException when encoder2 is null
     */
    public SdxlConditioner(ClipTextEncoder encoder1, ClipTextEncoder encoder2) { this(null, encoder1, null, encoder2); }

    SdxlConditioner(ClipTokenizer tokenizer1, ClipTextEncoder encoder1, ClipTokenizer tokenizer2, ClipTextEncoder encoder2) {
        if (encoder2 == null) throw new IllegalArgumentException("SDXL needs its second text encoder (text_encoder_2)");
        this.encoder1 = encoder1;
        this.encoder2 = encoder2;
        this.prompts1 = tokenizer1 == null || encoder1 == null ? null : new PromptEncoder(tokenizer1, encoder1);
        this.prompts2 = tokenizer2 == null ? null : new PromptEncoder(tokenizer2, encoder2);
    }

    /** {@return the context width: the sum of both encoders' hidden sizes (the second's alone for the refiner)} */
    public int contextDim() { return (encoder1 == null ? 0 : encoder1.config().hiddenSize()) + encoder2.config().hiddenSize(); }

    /** {@return the pooled embedding's width (the second encoder's projection_dim)} */
    public int pooledDim() { return encoder2.pooledDim(); }

    /**
     * encode_prompt's two outputs.
     *
     * @param context    [B, L, contextDim()]: the encoders' penultimate hidden states side by side
     * @param textEmbeds [B, projection_dim]: the second encoder's projected pooled output
     */
    public record Embeddings(Tensor context, Tensor textEmbeds) {}

    /**
     * encode_prompt for token ids already made by each tokenizer.
     *
     * @param ids1 token ids per prompt for encoder 1, each of the encoder's context length; ignored without encoder 1
     * @param ids2 token ids per prompt for encoder 2, as many prompts as ids1
     * @return the context and pooled embeddings, one row per prompt
     */

    public Embeddings encodeIds(int[][] ids1, int[][] ids2) {
        ClipTextEncoder.Hidden h2 = encoder2.encodeHidden(ids2, 1, true);
        Tensor h1 = encoder1 == null ? null : encoder1.encodeHidden(ids1, 1, false).hidden();
        return new Embeddings(h1 == null ? h2.hidden() : concatFeatures(h1, h2.hidden()), h2.textEmbeds());
    }

    @Override
    public int chunks(List<String> prompts, int minChunks) {
        List<String> given = new ArrayList<>();
        for (String p : prompts) if (p != null) given.add(p);
        return given.isEmpty() ? Math.max(1, minChunks) : prompts2.chunks(given, minChunks);
    }

    @Override
    public Conditioning encode(List<String> prompts, int clipSkip, int minChunks) {
        if (clipSkip > 1)
            throw new IllegalArgumentException("--clip-skip does not apply to SDXL models: they always take the penultimate layer of "
                    + "both text encoders (clip skip 2 is built in); leave it out");
        List<String> given = new ArrayList<>();
        for (String p : prompts) if (p != null) given.add(p);
        int chunks = chunks(prompts, minChunks);
        int len = 0, dim = contextDim(), pd = pooledDim();
        Tensor ctx = null, pooled = null;
        if (!given.isEmpty()) {
            PromptEncoder.Rows r2 = prompts2.rows(given, chunks);
            ClipTextEncoder.Hidden h2 = encoder2.encodeHidden(r2.ids(), 1, true);
            Tensor c2 = prompts2.weighted(r2, h2.hidden());
            Tensor c = c2;
            if (encoder1 != null) {
                PromptEncoder.Rows r1 = prompts1.rows(given, chunks);
                c = concatFeatures(prompts1.weighted(r1, encoder1.encodeHidden(r1.ids(), 1, false).hidden()), c2);
            }
            ctx = c;
            // The pooled embedding of each prompt's first chunk.
            float[] pe = new float[given.size() * pd];
            for (int p = 0; p < given.size(); p++) System.arraycopy(h2.textEmbeds().data(), p * chunks * pd, pe, p * pd, pd);
            pooled = new Tensor(pe, given.size(), pd);
            len = c.dim(1);
        }
        if (len == 0) len = chunks * (prompts2 != null ? prompts2Length() : 77);
        int n = prompts.size(), per = len * dim;
        float[] context = new float[n * per], text = new float[n * pd];
        for (int i = 0, g = 0; i < n; i++) {
            if (prompts.get(i) == null) continue; // zeros
            System.arraycopy(ctx.data(), g * per, context, i * per, per);
            System.arraycopy(pooled.data(), g * pd, text, i * pd, pd);
            g++;
        }
        return new Conditioning(new Tensor(context, n, len, dim), new Tensor(text, n, pd));
    }

    private int prompts2Length() { return prompts2.maxLength(); }

    /**
     * SDXL's micro-conditioning {@code add_time_ids}, one row per batch entry: original size (h, w), crop top-left
     * (top, left), then the target size (h, w) for 6 ids; for the refiner's 5 ids an aesthetic score instead of the
     * target size (6.0 for the prompt rows, 2.5 for the negative rows, diffusers' defaults).
     *
     * @param ids      ids per row, from the U-Net's add_embedding width
     * @param negative how many leading rows are negative-prompt rows
     * @param original original size (h, w); 0 takes the output size
     * @param crop     crop top-left (top, left)
     */
    static Tensor timeIds(int ids, int rows, int negative, int height, int width, int[] original, int[] crop) {
        if (ids != 6 && ids != 5)
            throw new IllegalArgumentException("the U-Net's added conditioning takes " + ids + " time ids; SDXL takes 6 (base) or 5 (refiner)");
        float oh = original[0] > 0 ? original[0] : height, ow = original[1] > 0 ? original[1] : width;
        float[] t = new float[rows * ids];
        for (int r = 0; r < rows; r++) {
            float[] v = ids == 6 ? new float[]{oh, ow, crop[0], crop[1], height, width}
                    : new float[]{oh, ow, crop[0], crop[1], r < negative ? 2.5f : 6.0f};
            System.arraycopy(v, 0, t, r * ids, ids);
        }
        return new Tensor(t, rows, ids);
    }

    static Tensor concatFeatures(Tensor a, Tensor b) {
        int n = a.dim(0), l = a.dim(1), da = a.dim(2), db = b.dim(2);
        if (b.dim(0) != n || b.dim(1) != l) throw new IllegalArgumentException("encoder outputs differ in shape: " + a + " and " + b);
        float[] out = new float[n * l * (da + db)];
        for (int r = 0; r < n * l; r++) {
            System.arraycopy(a.data(), r * da, out, r * (da + db), da);
            System.arraycopy(b.data(), r * db, out, r * (da + db) + da, db);
        }
        return new Tensor(out, n, l, da + db);
    }
}

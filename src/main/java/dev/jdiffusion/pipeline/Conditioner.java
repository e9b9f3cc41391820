package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;

import java.util.List;

/**
 * The conditioning step of the pipeline: prompts to what the denoiser sees, the context (cross-attention states) and,
 * for SDXL, the pooled text embedding of the added conditioning. SD 1.x/2.x: {@link PromptEncoder} (one encoder);
 * SDXL: {@link SdxlConditioner} (two encoders). The denoising loop is the same for both.
 */
interface Conditioner {
    /** The chunk count (of 75 tokens) the prompts need, at least minChunks; a too-long prompt is refused, named. */
    int chunks(List<String> prompts, int minChunks);

    /** Encodes the prompts (one row each), all padded to the same chunk count (at least minChunks). */
    Conditioning encode(List<String> prompts, int clipSkip, int minChunks);

    /**
     * What the denoiser is conditioned on.
     *
     * @param context    {@code [n, chunks * 77, D]}
     * @param textEmbeds {@code [n, projection_dim]} (SDXL's pooled embedding), or null
     */
    record Conditioning(Tensor context, Tensor textEmbeds) {}
}

package dev.jdiffusion.pipeline;

import dev.jdiffusion.model.clip.ClipTextConfig;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.model.vae.AutoencoderKL;

import java.util.Locale;

/**
 * The Java heap a generation needs at its peak, estimated from the model's shapes before anything is allocated, so
 * that a request that cannot fit is refused with a clear message instead of running out of memory half-way.
 *
 * <p>The three phases run one after another, so the peak is the largest of them, plus the weight matrices' heap
 * copies while they are not yet resident (the kernels convert each mapped weight matrix to a float array once, on
 * first use, and keep it):
 * <ul>
 *   <li>text encoder: every prompt chunk's activations (batch x 2 with classifier-free guidance, times the chunks);
 *   <li>U-Net: the skip tensors of the down path, the largest resnet's working set at each level (the widest up
 *       resnet's concatenated input, its GroupNorm output and the 3x3 convolution's unfolded input), the attention
 *       blocks' work arrays (norm, q, k, v, out, GEGLU), for batch x (2 with CFG) at h/8 x w/8, plus the sampler's
 *       latents and the text embeddings;
 *   <li>VAE decode: the largest full-resolution resnet (256 -> 128 channels for SD: input, GroupNorm, outputs, and
 *       the convolution's packing panels, which are per thread and small) over the decoded area: the whole image, or one
 *       tile when {@link AutoencoderKL} tiles (latents above {@link AutoencoderKL#AUTO_TILE_LATENT_PIXELS} pixels),
 *       plus the output images (kept twice while they are split per image).
 * </ul>
 * Calibrated against SD 1.5's shapes; it is an estimate (within a few tens of percent), meant to catch requests that
 * are far too big, not to squeeze the last megabyte. Weights are not counted: they stay in the mapped files (the
 * kernels convert F16/BF16 panels while packing) and convolutions pack their input panels on the fly, with no
 * unfolded copy of the input ({@link #CONV_UNFOLD} is 0; set it if a kernel ever unfolds again).
 *
 * @param textEncoder peak bytes while the prompts are encoded
 * @param unet        peak bytes during a denoising step
 * @param vae         peak bytes while the latents are decoded, output images included
 */
public record MemoryEstimate(long textEncoder, long unet, long vae) {
    /** Floats per input channel per output pixel that a 3x3 convolution unfolds: 0 (implicit GEMM, no im2col buffer). */
    static final int CONV_UNFOLD = 0;
    /** SD's VAE decoder (block_out_channels), the reference for the decoder's widths. */
    private static final int[] SD_VAE_BLOCKS = {128, 256, 512, 512};
    private static final double GIB = 1024.0 * 1024 * 1024;
    /**
     * System property {@code jdiffusion.memoryCheck}: {@code false} turns the refusal off (the run then fails with a
     * {@link GenerationException} if the heap really runs out), for when the estimate is too cautious.
     */
    public static final String CHECK_PROPERTY = "jdiffusion.memoryCheck";
    private static final boolean CHECK_ENABLED = !"false".equalsIgnoreCase(System.getProperty(CHECK_PROPERTY));

    /** The peak: the largest phase. */
    public long total() { return Math.max(textEncoder, Math.max(unet, vae)); }

    /**
     * Estimates a text-to-image or image-to-image run.
     *
     * @param parts            the loaded model
     * @param width            image width in pixels
     * @param height           image height in pixels
     * @param batch            images per run
     * @param cfg              classifier-free guidance (doubles the U-Net's and text encoder's batch)
     * @param promptChunks     75-token chunks per prompt (after padding prompt and negative prompt alike)
     */
    public static MemoryEstimate of(ModelComponents parts, int width, int height, int batch, boolean cfg, int promptChunks) {
        int prompts = batch * (cfg ? 2 : 1);
        int f = 8; // latents are 1/8 of the image, as the pipeline draws them
        int lh = Math.max(1, height / f), lw = Math.max(1, width / f);
        long text = textEncoderFloats(parts.textEncoder().config(), parts.tokenizer().maxLength(), prompts, promptChunks);
        long embeds = (long) prompts * promptChunks * parts.tokenizer().maxLength() * parts.textEncoder().config().hiddenSize();
        long unet = unetFloats(parts.unet().config(), prompts, lh, lw, promptChunks * parts.tokenizer().maxLength())
                + embeds + 12L * prompts * parts.unet().config().inChannels() * lh * lw;
        long vae = decodeFloats(parts, batch, lh, lw);
        return new MemoryEstimate(4 * text, 4 * unet, 4 * vae);
    }

    static long textEncoderFloats(ClipTextConfig c, int len, int prompts, int chunks) {
        long rows = (long) prompts * chunks * len;
        // hidden state, its norm, q, k, v, attention output, residual; the MLP's intermediate (twice); the scores
        return rows * (7L * c.hiddenSize() + 2L * c.intermediateSize()) + (long) prompts * chunks * c.numHeads() * len * len;
    }

    static long unetFloats(UNetConfig c, int n, int h, int w, int textLen) {
        int levels = c.levels();
        int[] ch = c.blockOutChannels();
        long[] hw = new long[levels];
        for (int i = 0; i < levels; i++) hw[i] = (long) ceilDiv(h, 1 << i) * ceilDiv(w, 1 << i);
        // skip tensors kept from the down path for the up path
        long skips = (long) ch[0] * hw[0];
        for (int i = 0; i < levels; i++) {
            skips += (long) c.layersPerBlock()[i] * ch[i] * hw[i];
            if (i < levels - 1) skips += (long) ch[i] * hw[i + 1];
        }
        skips *= n;
        long resnet = 0, attention = 0;
        for (int i = 0; i < levels; i++) {
            // the widest resnet at this level: an up resnet whose input is the previous output and a skip
            long cin = ch[i] + (long) Math.max(ch[i], ch[Math.min(i + 1, levels - 1)]);
            long work = n * hw[i] * (2 * cin + 3L * ch[i]) + CONV_UNFOLD * cin * hw[i];
            resnet = Math.max(resnet, work);
            boolean attn = c.downHasAttention(i) || c.upHasAttention(levels - 1 - i) || (i == levels - 1 && c.midBlock());
            if (attn) {
                // norm, q, k, v, out, GEGLU projection (8 c) and gate (4 c), block input and output
                long a = 19L * ch[i] * n * hw[i] + 2L * ch[i] * n * textLen;
                attention = Math.max(attention, a);
            }
        }
        long out = 3L * n * ch[0] * hw[0]; // current activation, the output norm, the upsampled input
        return skips + resnet + attention + out;
    }

    /** Decode peak in floats (the KL VAE, or TAESD when it decodes). */
    static long decodeFloats(ModelComponents parts, int batch, int lh, int lw) {
        AutoencoderKL vae = parts.vae();
        long images = 2L * batch * 3 * (8L * lh) * (8L * lw);
        if (parts.decodesWithTaesd() || vae == null) {
            // TAESD: 64 channels at full resolution, 3x3 convolutions
            long px = 64L * lh * lw;
            return px * (3L * 64 * batch + CONV_UNFOLD * 64L) + images;
        }
        int f = vae.spatialFactor();
        int tile = vae.tileSize();
        boolean bigger = lh > tile || lw > tile;
        boolean tiled = switch (vae.tiling()) {
            case OFF -> false;
            case ON -> bigger;
            case AUTO -> bigger && (long) lh * lw > AutoencoderKL.AUTO_TILE_LATENT_PIXELS;
        };
        long th = tiled ? Math.min(lh, tile) : lh, tw = tiled ? Math.min(lw, tile) : lw;
        long px = th * f * tw * f;
        // the decoder's widths, scaled from SD's by the ratio of work (work grows with the square of the width)
        double s = Math.sqrt((double) vae.decodeFlops(64, 64)
                / AutoencoderKL.decoderFlops(SD_VAE_BLOCKS, 2, vae.latentChannels(), 64, 64));
        long cin = Math.max(1, Math.round(SD_VAE_BLOCKS[1] * s)), cout = Math.max(1, Math.round(SD_VAE_BLOCKS[0] * s));
        long work = px * (batch * (2 * cin + 2 * cout) + CONV_UNFOLD * cin);
        // the mid block's attention over the latent pixels of one decode (q, k, v, out, tokens) at the top width
        long top = Math.max(1, Math.round(SD_VAE_BLOCKS[3] * s));
        long mid = 6L * batch * top * th * tw;
        long tiles = tiled ? 2L * ceilDiv(lw, Math.max(1, (int) (tile * (1 - vae.tileOverlap())))) * batch * 3 * px : 0;
        return Math.max(work, mid) + images + tiles;
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    /** Heap the JVM may still grow into: the maximum (-Xmx) minus what is in use now. */
    public static long availableHeap() {
        Runtime rt = Runtime.getRuntime();
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    }

    /**
     * Throws when the estimate exceeds the maximum heap. What is in use now is mostly garbage of earlier runs that
     * the collector reclaims as needed, so the limit is the maximum itself (no collection is forced to measure it).
     *
     * @param what the request in words (e.g. "512x512, batch 2"), for the message
     */
    public void requireFits(String what) {
        if (!CHECK_ENABLED) return;
        long max = Runtime.getRuntime().maxMemory();
        check(max, max, what);
    }

    /** Throws an IllegalArgumentException stating the estimate, the limit and what to do when total() exceeds available. */
    public void check(long available, long maxHeap, String what) {
        if (total() <= available) return;
        long suggest = (long) Math.ceil((total() + (maxHeap - available)) * 1.25 / GIB);
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "not enough memory for %s: it needs about %s of Java heap (%s) but only %s of the %s maximum is free; "
                        + "use a smaller size or batch, or give Java more heap, e.g. JDIFFUSION_JAVA_OPTS=-Xmx%dg "
                        + "(-D" + CHECK_PROPERTY + "=false skips this check)",
                what, gib(total()), breakdown(), gib(Math.max(0, available)), gib(maxHeap), Math.max(1, suggest)));
    }

    /** The phases in words. */
    public String breakdown() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "text encoder %s, U-Net %s, VAE decode %s",
                gib(textEncoder), gib(unet), gib(vae)));
        return sb.toString();
    }

    static String gib(long bytes) {
        return bytes >= GIB / 10 ? String.format(Locale.ROOT, "%.1f GiB", bytes / GIB)
                : String.format(Locale.ROOT, "%d MiB", Math.max(1, Math.round(bytes / (1024.0 * 1024))));
    }

    @Override public String toString() { return gib(total()) + " (" + breakdown() + ")"; }
}

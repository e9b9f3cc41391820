package dev.jdiffusion.pipeline;

import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.model.clip.ClipTextConfig;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.model.vae.AutoencoderKL;

import java.util.List;
import java.util.Locale;

/**
 * The memory a generation needs at its peak, estimated from the model's shapes before anything is allocated, so
 * that a request that cannot fit is refused in one line (what it needs, what there is, what to change) instead of
 * running out of memory half-way or being killed by the operating system. It is decided here, from what this JVM
 * and this machine have ({@link Runtime#maxMemory()}, the physical memory the OS reports), whatever flags or
 * launcher started the JVM.
 *
 * <p>Java heap: the three phases run one after another, so the activations' peak is the largest of them:
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
 * To that peak come the caches that live as long as the model: the Winograd filter cache (the transformed filters
 * of the U-Net's, VAE's and the request's ControlNets' 3x3 convolutions, at most its process-wide budget, see
 * {@link Conv2d#winogradCacheBudget()}, and in low-memory mode at most {@link ModelComponents#LOW_MEMORY_FILTER_CACHE}
 * per model file), and the small tensors the model keeps on the heap (biases, norm scales, token embeddings added by
 * textual inversion; the token embedding tables stay in the mapped files).
 * A request's ControlNets add the residuals they hand the U-Net to its step, and their weights to the resident pages.

 *
 * <p>Resident memory (compared with the machine's physical memory): the heap above, the mapped weight pages
 * resident at the peak (weights are used in place from the mapped files and released per component and, for the
 * U-Net and the text encoders, per module or layer, see {@link ModelComponents}: the largest of one text encoder layer,
 * one U-Net module and the VAE),
 * and the JVM's own memory (code, metaspace, GC structures, thread stacks).
 *
 * <p>Calibrated against SD 1.5's shapes; it is an estimate (within a few tens of percent), meant to catch requests
 * that are far too big, not to squeeze the last megabyte. Convolutions pack their input panels on the fly, with no
 * unfolded copy of the input ({@link #CONV_UNFOLD} is 0; set it if a kernel ever unfolds again).
 *
 * @param textEncoder peak heap bytes of activations while the prompts are encoded
 * @param unet        peak heap bytes of activations during a denoising step
 * @param vae         peak heap bytes while the latents are decoded, output images included
 * @param caches      heap bytes of caches kept with the model (the Winograd filter cache, at most its budget)
 * @param model       heap bytes of the tensors the loaded model keeps on the heap
 * @param weights     bytes of mapped weight pages resident at the peak (outside the heap)
 * @param lowMemoryVae the decode's peak heap bytes in low-memory mode, or -1 when the model already runs in it
 *                    (or it would not help)
 */
public record MemoryEstimate(long textEncoder, long unet, long vae, long caches, long model, long weights, long lowMemoryVae) {
    /** Floats per input channel per output pixel that a 3x3 convolution unfolds: 0 (implicit GEMM, no im2col buffer). */
    static final int CONV_UNFOLD = 0;
    /** SD's VAE decoder (block_out_channels), the reference for the decoder's widths. */
    private static final int[] SD_VAE_BLOCKS = {128, 256, 512, 512};
    private static final double GIB = 1024.0 * 1024 * 1024;
    /** The JVM's memory beside the heap: JIT code, metaspace, thread stacks (measured ~0.2 GB), plus GC structures. */
    static final long JVM_NATIVE = 256L << 20;
    /** Heap kept by a loaded model beside its embedding table (configs, biases, norm scales, tokenizer). */
    static final long MODEL_HEAP = 32L << 20;
    /**
     * System property {@code jdiffusion.memoryCheck}: {@code false} turns the refusal off (the run then fails with a
     * {@link GenerationException} if the heap really runs out), for when the estimate is too cautious.
     */
    public static final String CHECK_PROPERTY = "jdiffusion.memoryCheck";
    private static final boolean CHECK_ENABLED = !"false".equalsIgnoreCase(System.getProperty(CHECK_PROPERTY));

    /** {@return the Java heap the run needs, in bytes: the largest phase's activations, the caches and the model's own heap} */
    public long heap() { return Math.max(textEncoder, Math.max(unet, vae)) + caches + model; }

    /** {@return the same as {@link #heap()}: the figure compared with the maximum heap, in bytes} */
    public long total() { return heap(); }

    /**
     * {@return the process's resident memory at the peak, in bytes: the heap, the resident weight pages and the JVM's
     * own memory}
     */
    public long resident() { return heap() + weights + JVM_NATIVE + heap() / 32; }

    /**
     * Estimates a text-to-image or image-to-image run.
     *
     * @param parts            the loaded model
     * @param width            image width in pixels
     * @param height           image height in pixels
     * @param batch            images per run
     * @param cfg              classifier-free guidance (doubles the U-Net's and text encoder's batch)
     * @param promptChunks     75-token chunks per prompt (after padding prompt and negative prompt alike)
     * @return the estimate; nothing is allocated
     * @throws IllegalStateException when the model is closed
     */
    public static MemoryEstimate of(ModelComponents parts, int width, int height, int batch, boolean cfg, int promptChunks) {
        return of(parts, width, height, batch, cfg, promptChunks, List.of());
    }

    /**
     * Estimates a run with ControlNets. Each ControlNet adds its mapped weights (resident while the steps run, beside
     * the U-Net), its Winograd filters to the cache (within the budget), and to the step's heap the residuals it
     * hands the U-Net: the sum so far and the one being computed, each the size of the down path's skip tensors.
     *
     * @param parts        the loaded model
     * @param width        image width in pixels
     * @param height       image height in pixels
     * @param batch        images per run
     * @param cfg          classifier-free guidance (doubles the U-Net's, ControlNets' and text encoder's batch)
     * @param promptChunks 75-token chunks per prompt (after padding prompt and negative prompt alike)
     * @param controls     the request's ControlNets (empty for none)
     * @return the estimate; nothing is allocated
     * @throws IllegalStateException when the model is closed
     */
    public static MemoryEstimate of(ModelComponents parts, int width, int height, int batch, boolean cfg, int promptChunks,
                                    List<GenerationRequest.Control> controls) {
        int prompts = batch * (cfg ? 2 : 1);
        int f = 8; // latents are 1/8 of the image, as the pipeline draws them
        int lh = Math.max(1, height / f), lw = Math.max(1, width / f);
        // SDXL runs its encoders one after the other: the second (larger) one bounds the text step.
        ClipTextConfig tc = (parts.sdxl() != null ? parts.sdxl().textEncoder2() : parts.textEncoder()).config();
        int len = parts.sdxl() != null ? parts.sdxl().tokenizer2().maxLength() : parts.tokenizer().maxLength();
        long text = textEncoderFloats(tc, len, prompts, promptChunks);
        long embeds = (long) prompts * promptChunks * len * parts.unet().config().crossAttentionDim();
        long unet = unetFloats(parts.unet().config(), prompts, lh, lw, promptChunks * len)
                + embeds + 12L * prompts * parts.unet().config().inChannels() * lh * lw;
        AutoencoderKL kl = parts.vae();
        long vae = decodeFloats(parts, batch, lh, lw, kl == null ? AutoencoderKL.Tiling.OFF : kl.tiling(), kl == null ? 0 : kl.tileSize());
        long lowVae = -1;
        if (!parts.lowMemory() && kl != null && !parts.decodesWithTaesd()) {
            long v = decodeFloats(parts, batch, lh, lw, AutoencoderKL.Tiling.ON, ModelComponents.LOW_MEMORY_TILE);
            if (v < vae) lowVae = 4 * v;
        }
        long filters = parts.winogradFilterBytes(), controlWeights = 0;
        java.util.Set<ControlNet> nets = new java.util.LinkedHashSet<>();
        for (GenerationRequest.Control c : controls) nets.add(c.net());
        for (ControlNet n : nets) {
            filters += n.winogradFilterBytes();
            controlWeights += n.weightBytes();
        }
        if (!nets.isEmpty()) unet += 2 * skipFloats(parts.unet().config(), prompts, lh, lw);
        long caches = Math.min(Conv2d.winogradCacheBudget(), filters);
        // token embedding tables stay in the mapped files (rows read per prompt); added rows (textual inversion) are heap
        long model = MODEL_HEAP;
        for (var te : new dev.jdiffusion.model.clip.ClipTextEncoder[]{parts.textEncoder(), parts.sdxl() == null ? null : parts.sdxl().textEncoder2()})
            if (te != null) model += 4L * (te.tokenCount() - te.config().vocabSize()) * te.config().hiddenSize();
        return new MemoryEstimate(4 * text, 4 * unet, 4 * vae, caches, model, parts.residentWeightBytes() + controlWeights, lowVae);
    }

    static long textEncoderFloats(ClipTextConfig c, int len, int prompts, int chunks) {
        long rows = (long) prompts * chunks * len;
        // hidden state, its norm, q, k, v, attention output, residual; the MLP's intermediate (twice); the scores
        return rows * (7L * c.hiddenSize() + 2L * c.intermediateSize()) + (long) prompts * chunks * c.numHeads() * len * len;
    }

    /** The down path's skip tensors in floats (also the size of a ControlNet's residuals, mid block aside). */
    static long skipFloats(UNetConfig c, int n, int h, int w) {
        int levels = c.levels();
        int[] ch = c.blockOutChannels();
        long skips = (long) ch[0] * h * w;
        for (int i = 0; i < levels; i++) {
            long hw = (long) ceilDiv(h, 1 << i) * ceilDiv(w, 1 << i);
            skips += (long) c.layersPerBlock()[i] * ch[i] * hw;
            if (i < levels - 1) skips += (long) ch[i] * ceilDiv(h, 1 << (i + 1)) * ceilDiv(w, 1 << (i + 1));
        }
        return skips * n;
    }

    static long unetFloats(UNetConfig c, int n, int h, int w, int textLen) {
        int levels = c.levels();
        int[] ch = c.blockOutChannels();
        long[] hw = new long[levels];
        for (int i = 0; i < levels; i++) hw[i] = (long) ceilDiv(h, 1 << i) * ceilDiv(w, 1 << i);
        // skip tensors kept from the down path for the up path
        long skips = skipFloats(c, n, h, w);

        long resnet = 0, attention = 0;
        for (int i = 0; i < levels; i++) {
            // the widest resnet at this level: an up resnet whose input is the previous output and a skip
            long cin = ch[i] + (long) Math.max(ch[i], ch[Math.min(i + 1, levels - 1)]);
            long work = n * hw[i] * (2 * cin + 3L * ch[i]) + CONV_UNFOLD * cin * hw[i];
            resnet = Math.max(resnet, work);
            boolean attn = c.downHasAttention(i) || c.upHasAttention(levels - 1 - i) || (i == levels - 1 && c.midAttention());
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
    static long decodeFloats(ModelComponents parts, int batch, int lh, int lw, AutoencoderKL.Tiling tiling, int tile) {
        AutoencoderKL vae = parts.vae();
        long images = 2L * batch * 3 * (8L * lh) * (8L * lw);
        if (parts.decodesWithTaesd() || vae == null) {
            // TAESD: 64 channels at full resolution, 3x3 convolutions
            long px = 64L * lh * lw;
            return px * (3L * 64 * batch + CONV_UNFOLD * 64L) + images;
        }
        int f = vae.spatialFactor();
        boolean tiled = AutoencoderKL.tiles(tiling, tile, lh, lw);
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

    /**
     * {@return the machine's physical memory in bytes as the OS reports it to this JVM (a container's limit inside one),
     * or -1 when the JVM cannot tell (no jdk.management module)}
     */
    public static long physicalMemory() {
        try {
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
                return os.getTotalMemorySize();
        } catch (RuntimeException | LinkageError e) {
            // no management module: no physical limit known
        }
        return -1;
    }

    /**
     * Throws when the run cannot fit: its heap over the maximum heap, or its resident memory over the machine's
     * physical memory. No collection is forced to decide: what the heap holds now beyond the model and its caches is
     * garbage of earlier runs that the collector reclaims as needed.
     *
     * @param what the request in words (e.g. "512x512, batch 2"), for the message
     * @throws IllegalArgumentException when it does not fit (one line, see {@link #check}); never when
     *                                  {@code -Djdiffusion.memoryCheck=false}
     */
    public void requireFits(String what) {

        if (!CHECK_ENABLED) return;
        check(Runtime.getRuntime().maxMemory(), physicalMemory(), what);
    }

    /**
     * Throws an IllegalArgumentException, one line, when the run does not fit in maxHeap bytes of Java heap or
     * physical bytes of memory (ignored when not positive): what it needs, what there is, and what to change.
     * Unlike {@link #requireFits}, it ignores {@link #CHECK_PROPERTY}.
     *
     * @param maxHeap  the Java heap maximum to compare {@link #heap()} with, in bytes
     * @param physical the physical memory to compare {@link #resident()} with, in bytes; 0 or less: not compared
     * @param what     the request in words (e.g. "512x512, batch 2"), for the message
     * @throws IllegalArgumentException when it does not fit, naming -Xmx, --low-memory or a smaller size as they help
     */
    public void check(long maxHeap, long physical, String what) {
        boolean ram = physical > 0 && resident() > physical;
        if (!ram && heap() <= maxHeap) return;
        boolean lowHelps = lowMemoryVae >= 0 && lowMemoryHeap() < heap();
        String low = lowHelps ? String.format(Locale.ROOT, "low-memory mode (--low-memory, ModelOptions.withLowMemory; heap %s)", gib(lowMemoryHeap())) : null;
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "not enough memory for %s: it needs about %s of Java heap (%s)",
                what, gib(heap()), breakdown()));
        if (ram) {
            sb.append(String.format(Locale.ROOT, " and about %s resident with the weights and the JVM, but this machine has %s; "
                    + "use a smaller size or batch", gib(resident()), gib(physical)));
            if (lowHelps && resident() - heap() + lowMemoryHeap() <= physical) sb.append(", or ").append(low);
        } else {
            long xmx = (long) Math.ceil(heap() * 1.15 / GIB);
            sb.append(String.format(Locale.ROOT, " but the Java heap maximum is %s; give Java more heap (-Xmx%dg; for the jdiffusion "
                    + "launcher JDIFFUSION_JAVA_OPTS=-Xmx%dg)", gib(maxHeap), Math.max(1, xmx), Math.max(1, xmx)));
            if (lowHelps && lowMemoryHeap() <= maxHeap) sb.append(", or use ").append(low);
            sb.append(", or a smaller size or batch");
        }
        sb.append(" (-D" + CHECK_PROPERTY + "=false skips this check)");
        throw new IllegalArgumentException(sb.toString());
    }

    /** {@link #heap()} with the decode of low-memory mode. */
    long lowMemoryHeap() {
        return lowMemoryVae < 0 ? heap() : Math.max(textEncoder, Math.max(unet, lowMemoryVae)) + caches + model;
    }

    /** {@return the parts in words, e.g. "text encoder 12 MiB, U-Net 0.6 GiB, VAE decode 1.1 GiB, caches ..."} */
    public String breakdown() {
        return String.format(Locale.ROOT, "text encoder %s, U-Net %s, VAE decode %s, caches %s, model %s",
                gib(textEncoder), gib(unet), gib(vae), gib(caches), gib(model));
    }

    static String gib(long bytes) {
        return bytes >= GIB / 10 ? String.format(Locale.ROOT, "%.1f GiB", bytes / GIB)
                : String.format(Locale.ROOT, "%d MiB", Math.max(1, Math.round(bytes / (1024.0 * 1024))));
    }

    @Override public String toString() {
        return gib(heap()) + " of heap (" + breakdown() + "), " + gib(resident()) + " resident (weights " + gib(weights) + ")";
    }
}

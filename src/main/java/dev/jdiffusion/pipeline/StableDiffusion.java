package dev.jdiffusion.pipeline;

import dev.jdiffusion.kernels.Parallel;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.model.unet.UNetResiduals;
import dev.jdiffusion.sampling.Scheduler;
import dev.jdiffusion.sampling.DdimScheduler;
import dev.jdiffusion.sampling.LcmScheduler;
import dev.jdiffusion.sampling.NoiseSource;
import dev.jdiffusion.sampling.StepResult;
import dev.jdiffusion.sampling.Schedulers;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A loaded Stable Diffusion model: text-to-image and image-to-image.
 *
 * <pre>{@code
 * try (StableDiffusion sd = StableDiffusion.load(Path.of("weights/LCM_Dreamshaper_v7"))) {
 *     GenerationResult r = sd.generate(GenerationRequest.builder("a cabin in the snow").seed(42).build());
 *     Images.writePng(Path.of("out.png"), r.images().get(0), Map.of("parameters", r.parameters()));
 * }
 * }</pre>
 *
 * <p>Thread safety: an instance may be shared by any number of threads. Generations run one at a time, in
 * arrival order (each already uses every core); each caller gets exactly the images it would get alone.
 *
 * <p>Closing releases the mapped weight files and the model's hold on its compute pool (see {@link ModelOptions#threads}):
 * a generation in progress finishes first; generations still waiting for their turn end at once with a
 * {@link CancellationException}, and later calls fail with an {@link IllegalStateException}.
 */
public final class StableDiffusion implements AutoCloseable {
    private final ModelComponents parts;
    private final Conditioner prompts;
    private final LoraSelection loras;
    private final Parallel.Lease pool;
    /** Guards the queue: tickets are served in arrival order, one generation at a time. */
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition turn = lock.newCondition();
    private long nextTicket, serving;
    private Thread running;
    private boolean closed;
    private volatile boolean released;

    private StableDiffusion(ModelComponents parts, Parallel.Lease pool) {
        this.parts = parts;
        this.pool = pool;
        this.prompts = parts.sdxl() == null ? new PromptEncoder(parts.tokenizer(), parts.textEncoder())
                : new SdxlConditioner(parts.tokenizer(), parts.textEncoder(), parts.sdxl().tokenizer2(), parts.sdxl().textEncoder2());
        this.loras = new LoraSelection(parts.options().adapters());
    }

    /**
     * Loads a diffusers folder or single-file checkpoint with default options ({@link ModelOptions#of}).
     *
     * @param model a diffusers folder or a single-file .safetensors checkpoint
     * @return the loaded model; close it to unmap its files and release its compute pool
     * @throws ModelFormatException missing or malformed model files
     */
    public static StableDiffusion load(java.nio.file.Path model) { return load(ModelOptions.of(model)); }

    /**
     * Loads a model with optional replacement parts. All validation happens here, before any generation. The weight
     * files are mapped, not read into the heap; the model's compute pool is leased here (its threads start on the
     * first generation).
     *
     * @param options the model path and its options
     * @return the loaded model; close it to unmap its files and release its compute pool
     * @throws IllegalArgumentException bad options, e.g. a malformed {@code -Djdiffusion.threads}
     * @throws ModelFormatException     missing or malformed model files
     */
    public static StableDiffusion load(ModelOptions options) { return load(options, part -> {}); }

    /**
     * As {@link #load(ModelOptions)}, telling {@code status} each part as its loading starts, for progress messages.
     *
     * @param options the model path and its options
     * @param status  called on the loading thread with a short name of each part ("text encoder", "U-Net", ...)
     *                before it loads
     * @return the loaded model
     * @throws IllegalArgumentException bad options
     * @throws ModelFormatException     missing or malformed model files
     */
    public static StableDiffusion load(ModelOptions options, java.util.function.Consumer<String> status) {
        dev.jdiffusion.gpu.Device.forPipeline(options.device());
        Parallel.Lease pool = Parallel.lease(options.threads());
        try {
            return new StableDiffusion(ModelComponents.load(options, status), pool);
        } catch (RuntimeException | Error e) {
            pool.close();
            throw e;
        }
    }

    /**
     * {@return the model family, which sets the request defaults (sampler, steps, guidance, size)}
     *
     * @throws IllegalStateException once the model is closed
     */
    public ModelFamily family() { checkOpen(); return parts.family(); }

    /**
     * {@return the short model name used in the parameters text (its folder or file name)}
     *
     * @throws IllegalStateException once the model is closed
     */
    public String modelName() { checkOpen(); return parts.name(); }

    /**
     * {@return the number of compute threads this model's generations use (see {@link ModelOptions#threads})}
     *
     * @throws IllegalStateException once the model is closed
     */
    public int threads() { checkOpen(); return pool.threads(); }

    /**
     * {@return the loaded parts, for tools and tests; they belong to this model and are released when it closes}
     *
     * @throws IllegalStateException once the model is closed
     */
    public ModelComponents components() { checkOpen(); return parts; }

    /** Every public method but close fails once the model is closed (its resources freed; a running generation finishes first). */
    private void checkOpen() {
        if (released) throw new IllegalStateException("model is closed");
    }

    /**
     * Generates the request's images. Blocks while another generation on this instance runs; runs on this model's
     * compute pool, whose threads do the work while the calling thread waits.
     *
     * @param req the request; its unset fields take the family's defaults ({@link #resolve})
     * @return the images, the seed used, each image's parameters text and the timings
     * @throws IllegalArgumentException a bad request, or one that cannot fit in the Java heap or the machine's memory
     *                                  (checked before any compute, see {@link MemoryEstimate})
     * @throws GenerationException      the heap ran out during the run; the model stays usable
     * @throws ModelFormatException     a mapped weight file was truncated or overwritten on disk while in use
     * @throws CancellationException    the request's {@link CancellationToken} was cancelled, or the model was closed
     *                                  while this call waited for its turn
     * @throws IllegalStateException    the model is closed
     */
    public GenerationResult generate(GenerationRequest req) { return generate(req, null, null, null); }

    /**
     * Generates with explicit initial latents and per-step noise instead of drawing them from the seed, and
     * reports every step's tensors: for reproducing another implementation's run exactly.
     *
     * @param req            the request
     * @param initialLatents [batch, C, h, w] latents before scaling by the sampler's initial sigma, or null
     * @param noise          the noise the sampler draws between steps, or null for the seeded generator
     * @param trace          receives each step's tensors, or null
     * @return the result, as {@link #generate(GenerationRequest)}
     * @throws IllegalArgumentException as {@link #generate(GenerationRequest)}, also for latents of the wrong shape
     */
    public GenerationResult generate(GenerationRequest req, Tensor initialLatents, NoiseSource noise, StepTrace trace) {
        enter();
        try {
            return pool.call(() -> run(req, initialLatents, noise, trace == null ? StepTrace.NONE : trace));
        } catch (OutOfMemoryError e) {
            throw new GenerationException("out of memory generating " + describe(req) + " (Java heap maximum "
                    + MemoryEstimate.gib(Runtime.getRuntime().maxMemory()) + "); use a smaller size or batch, low-memory mode (--low-memory), "
                    + "or give Java more heap (-Xmx; for the jdiffusion launcher JDIFFUSION_JAVA_OPTS=-Xmx...); the model is still loaded and usable", e);
        } catch (InternalError e) {
            // the JVM reports a fault reading mapped memory as an InternalError; a stat tells whether a file shrank
            List<java.nio.file.Path> truncated = SafetensorsFile.truncatedOpenFiles();
            if (truncated.isEmpty()) throw e;
            throw new ModelFormatException(truncated.stream().map(Object::toString).collect(java.util.stream.Collectors.joining(", "))
                    + ": a weight file changed on disk while in use (truncated or overwritten; reading its mapped pages failed); "
                    + "reload the model, and replace model files only when no process uses them", e);
        } finally {
            leave();
        }
    }

    /** Waits for this caller's turn (arrival order); throws when the model is or gets closed meanwhile. */
    private void enter() {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("model is closed");
            long ticket = nextTicket++;
            while (running != null || serving != ticket) {
                turn.awaitUninterruptibly();
                if (closed) throw new CancellationException("the model was closed while this generation waited for its turn; nothing was generated");
            }
            serving++;
            running = Thread.currentThread();
        } finally {
            lock.unlock();
        }
    }

    /** Ends this caller's turn: wakes the next one, or finishes a close that came meanwhile. */
    private void leave() {
        lock.lock();
        try {
            running = null;
            if (closed) release();
            turn.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Frees the model's resources once (lock held, nothing running). */
    private void release() {
        if (released) return;
        released = true;
        try {
            parts.close();
        } finally {
            pool.close();
        }
    }

    /** The request's size in words, without drawing a seed. */
    private String describe(GenerationRequest req) {
        int w = req.width() != 0 ? req.width() : req.initImage() != null ? req.initImage().dim(3) : family().defaultSize();
        int h = req.height() != 0 ? req.height() : req.initImage() != null ? req.initImage().dim(2) : family().defaultSize();
        return w + "x" + h + (req.batch() > 1 ? ", batch " + req.batch() : "");
    }

    /**
     * The memory the request needs at its peak, estimated from the model's shapes (see {@link MemoryEstimate}); the
     * generation refuses a request whose heap exceeds the maximum heap or whose resident memory exceeds the machine's.
     * Computes nothing but arithmetic on shapes; does not wait for a running generation.
     *
     * @param req the request, with the family's defaults applied as {@link #generate} would
     * @return the estimate for this request on this model
     * @throws IllegalArgumentException a prompt longer than {@link GenerationRequest#MAX_PROMPT_CHUNKS} chunks
     */
    public MemoryEstimate estimateMemory(GenerationRequest req) {
        Resolved r = resolve(req);
        boolean cfg = parts.unet().config().timeCondProjDim() <= 0 && r.guidance() > 1f;
        List<String> texts = new ArrayList<>();
        texts.add(req.prompt());
        if (cfg) texts.add(negative(req));
        return MemoryEstimate.of(parts, r.width(), r.height(), req.batch(), cfg, prompts.chunks(texts, 1), req.controls());
    }

    /** Receives the tensors of each denoising step (for tests and debugging). */
    public interface StepTrace {
        /**
         * One denoising step's tensors.
         *
         * @param step       index into the sampler's timesteps
         * @param modelInput the U-Net's input batch
         * @param modelOut   the guided model output
         * @param latents    the latents after the step
         * @param denoised   the sampler's denoised estimate, or null
         */
        void onStep(int step, Tensor modelInput, Tensor modelOut, Tensor latents, Tensor denoised);

        /**
         * The text embeddings, once, before the first step.
         *
         * @param embeddings [n, L, D]: with classifier-free guidance the negative prompts' rows first, then the
         *                   prompts'
         */
        default void onEmbeddings(Tensor embeddings) {}

        /**
         * The latents that were decoded and the images they gave, once, after the last step.
         *
         * @param latents the latents decoded [batch, C, h, w] (the LCM sampler's last denoised sample, else the final
         *                latents), before the VAE divides them by its scaling factor

         * @param images  the decoded images [batch, 3, H, W] in [0, 1]
         */
        default void onDecode(Tensor latents, Tensor images) {}

        /**
         * A named intermediate tensor, under diffusers' variable names: inpainting's {@code mask_condition},
         * {@code mask}, {@code image_latents}, {@code masked_image_latents}, {@code init_latents} (the latents the
         * loop starts from); each step's summed ControlNet {@code mid_block_res_sample} (before that step's onStep).
         *
         * @param name  the diffusers variable name
         * @param value the tensor; the receiver must not modify it
         */
        default void onTensor(String name, Tensor value) {}

        /**
         * SDXL: the added conditioning the U-Net sees, rows in the order of the embeddings'.
         *
         * @param textEmbeds the pooled text embeddings [n, P]
         * @param timeIds    the micro-conditioning time ids [n, k] (original size, crop, target size)
         */
        default void onAddedConditioning(Tensor textEmbeds, Tensor timeIds) {}

        /** A trace that receives nothing. */
        StepTrace NONE = (i, a, b, c, d) -> {};
    }

    /**
     * The settings a request runs with once the family's defaults are applied.
     *
     * @param sampler  the sampler's name, lower case (as {@link dev.jdiffusion.sampling.Schedulers} knows it)
     * @param steps    denoising steps
     * @param guidance guidance scale (classifier-free guidance when above 1 on a non-LCM U-Net)
     * @param width    image width in pixels
     * @param height   image height in pixels
     * @param seed     the seed: the request's, else one drawn at random (32 bits)
     */
    public record Resolved(String sampler, int steps, float guidance, int width, int height, long seed) {}

    /**
     * Applies the family's defaults to the unset fields of a request. Draws a random seed when the request has none,
     * so two calls on such a request give different seeds.
     *
     * @param req the request
     * @return the settings it runs with
     * @throws IllegalArgumentException an init image whose size disagrees with the request's or is not a multiple of 8
     * @throws IllegalStateException    the model is closed
     */
    public Resolved resolve(GenerationRequest req) {
        ModelFamily f = family();
        // An LCM-LoRA switches the defaults to LCM sampling (4 steps, no guidance) on any model.
        boolean lcmLora = loras.select(req).lcm();
        String sampler = req.sampler() != null ? req.sampler().toLowerCase(Locale.ROOT) : lcmLora ? "lcm" : f.defaultSampler();
        int steps = req.steps() > 0 ? req.steps() : (sampler.equals("lcm") ? 4 : f.defaultSteps());
        float g = Float.isNaN(req.guidanceScale()) ? (sampler.equals("lcm") && !f.isLcm() ? 1f : f.defaultGuidance()) : req.guidanceScale();
        int w = req.width(), h = req.height();
        if (req.initImage() != null) {
            if (w == 0) w = req.initImage().dim(3);
            if (h == 0) h = req.initImage().dim(2);
            if (w != req.initImage().dim(3) || h != req.initImage().dim(2))
                throw new IllegalArgumentException("init image is " + req.initImage().dim(3) + "x" + req.initImage().dim(2)
                        + " but the request asks for " + w + "x" + h);
            if (w % 8 != 0 || h % 8 != 0)
                throw new IllegalArgumentException("init image sides must be multiples of 8, got " + w + "x" + h);
        }
        if (w > GenerationRequest.MAX_SIDE || h > GenerationRequest.MAX_SIDE)
            throw new IllegalArgumentException("init image is " + w + "x" + h + "; sides up to " + GenerationRequest.MAX_SIDE + " are accepted");
        if (w == 0) w = f.defaultSize();
        if (h == 0) h = f.defaultSize();
        long seed = req.seed() != null ? req.seed() : (new SecureRandom().nextLong() & 0xffffffffL);
        return new Resolved(sampler, steps, g, w, h, seed);
    }

    private GenerationResult run(GenerationRequest req, Tensor initialLatents, NoiseSource noiseOverride, StepTrace trace) {
        long t0 = System.nanoTime();
        CancellationToken cancel = req.cancellation();
        cancel.check(); // cancelled while it waited for the lock: no work at all
        Resolved r = resolve(req);
        LoraSelection.Selection sel = loras.select(req);
        parts.applyLoras(sel.loras());
        String prompt = sel.prompt();
        boolean lcmUnet = parts.unet().config().timeCondProjDim() > 0;
        boolean cfg = usesCfg(r);
        int batch = req.batch();
        Scheduler scheduler = Schedulers.create(r.sampler(), parts.schedulerConfig());
        if (req.eta() > 0f) {
            if (!(scheduler instanceof DdimScheduler)) throw new IllegalArgumentException("eta applies to the ddim sampler only");
            scheduler = new DdimScheduler(((DdimScheduler) scheduler).config(), req.eta());
        }
        boolean lcmSampler = scheduler instanceof LcmScheduler;
        if (lcmSampler && req.initImage() != null) ((LcmScheduler) scheduler).setTimesteps(r.steps(), req.strength());
        else scheduler.setTimesteps(r.steps());
        float[] timesteps = scheduler.timesteps();
        // Image-to-image skips the first steps (LCM restricts its schedule instead); checked before any compute.
        int startStep = req.initImage() == null || lcmSampler ? 0 : Scheduler.startStep(timesteps.length, req.strength());
        if (startStep >= timesteps.length)
            throw new IllegalArgumentException("strength " + req.strength() + " of " + r.steps() + " steps leaves no step to run; "
                    + "raise the strength or the steps (steps x strength must be at least 1)");
        if (req.initImage() != null && parts.vae() == null && !parts.taesd().canEncode())
            throw new IllegalArgumentException("image-to-image needs an image encoder: this model has no VAE and its TAESD has no encoder");
        int lc = parts.unet().config().outChannels();
        boolean inpaintUnet = parts.unet().config().inChannels() == 2 * lc + 1;
        if (inpaintUnet && req.mask() == null)
            throw new IllegalArgumentException("this is an inpainting model (U-Net with " + parts.unet().config().inChannels()
                    + " input channels): give an init image and a mask (--init-image, --mask)");
        if (!inpaintUnet && parts.unet().config().inChannels() != lc)
            throw new IllegalArgumentException("U-Net with " + parts.unet().config().inChannels() + " input channels and " + lc
                    + " output channels is not supported");
        Tensor mask = req.mask();
        if (mask != null && (mask.dim(2) != r.height() || mask.dim(3) != r.width())) mask = Images.resize(mask, r.width(), r.height());
        ControlSteps controls = ControlSteps.prepare(req.controls(), parts.unet().config(), modelName(), r.width(), r.height());

        // Limits before anything is allocated: prompt length, then the heap the whole run needs.
        List<String> texts = new ArrayList<>();
        if (cfg) for (int i = 0; i < batch; i++) texts.add(negative(req));
        for (int i = 0; i < batch; i++) texts.add(prompt);
        int chunks = prompts.chunks(cfg ? java.util.Arrays.asList(negative(req), prompt) : List.of(prompt), 1);
        MemoryEstimate.of(parts, r.width(), r.height(), batch, cfg, chunks, req.controls())

                .requireFits(r.width() + "x" + r.height() + (batch > 1 ? ", batch " + batch : ""));

        // 1. Text embeddings: [uncond..., cond...] for classifier-free guidance.
        Conditioner.Conditioning cond = prompts.encode(texts, req.clipSkip(), chunks);
        Tensor embeds = cond.context();
        parts.releaseWeights(Checkpoint.TEXT_ENCODER);
        parts.releaseWeights(Checkpoint.TEXT_ENCODER_2);
        trace.onEmbeddings(embeds);
        UNet2DConditionModel.AddedConditioning added = null;
        if (cond.textEmbeds() != null) {
            var uc = parts.unet().config();
            int ids = (uc.addEmbedInputDim() - cond.textEmbeds().dim(1)) / uc.additionTimeEmbedDim();
            added = new UNet2DConditionModel.AddedConditioning(cond.textEmbeds(), SdxlConditioner.timeIds(ids, texts.size(),
                    cfg ? batch : 0, r.height(), r.width(), req.sdxlOriginalSize(), req.sdxlCropTopLeft()));
            trace.onAddedConditioning(added.textEmbeds(), added.timeIds());
        }
        long t1 = System.nanoTime();
        cancel.check();

        // 2. Initial latents from the seed, as diffusers draws them.
        int lh = r.height() / 8, lw = r.width() / 8;
        BatchNoise gen = BatchNoise.of(r.seed(), batch, req.sharedBatchNoise());
        NoiseSource stepNoise = noiseOverride != null ? noiseOverride : gen;
        Tensor latents;
        Inpainting inpaint = null;
        if (mask != null) {
            inpaint = Inpainting.prepare(parts, req.initImage(), mask, req.strength(), batch, lc, gen, scheduler, startStep, trace);
            parts.releaseWeights(Checkpoint.VAE);
            latents = inpaint.initialLatents();
            trace.onTensor("init_latents", latents);
        } else if (req.initImage() == null) {
            latents = initialLatents != null ? copy(initialLatents) : gen.next(batch, lc, lh, lw);
            if (!java.util.Arrays.equals(latents.shape(), new int[]{batch, lc, lh, lw}))
                throw new IllegalArgumentException("initial latents are " + latents + ", expected [" + batch + ", " + lc + ", " + lh + ", " + lw + "]");
            scale(latents, scheduler.initNoiseSigma());
        } else {
            Tensor init = Img2Img.encode(parts, req.initImage(), batch, gen);
            parts.releaseWeights(Checkpoint.VAE);
            Tensor noise = gen.next(batch, lc, lh, lw);
            latents = scheduler.addNoise(init, noise, startStep);
        }

        // 3. Denoising loop.
        Tensor lcmCond = lcmUnet ? UNet2DConditionModel.guidanceEmbedding(repeat(r.guidance() - 1f, batch), parts.unet().config().timeCondProjDim()) : null;
        Tensor denoised = null;
        int total = timesteps.length - startStep;
        long loop0 = System.nanoTime();
        for (int i = startStep; i < timesteps.length; i++) {
            cancel.check();
            Tensor model = scheduler.scaleModelInput(latents, i);
            Tensor in = cfg ? concat(model, model) : model;
            float[] ts = repeat(timesteps[i], in.dim(0));
            UNetResiduals res = controls == null ? null : controls.residuals(in, ts, embeds, i - startStep, total, trace);
            if (inpaint != null) in = inpaint.unetInput(in);
            Tensor out = parts.unet().forward(in, ts, embeds, lcmCond, added, null, parts.unetModuleListener(), res);
            Tensor pred = cfg ? guide(out, r.guidance()) : out;
            StepResult s = scheduler.step(pred, i, latents, stepNoise);
            latents = s.prevSample();
            if (inpaint != null) latents = inpaint.blend(latents, scheduler, i, timesteps.length);
            denoised = s.denoised();
            trace.onStep(i, in, pred, latents, denoised);
            int done = i - startStep + 1;
            long el = System.nanoTime() - loop0;
            Tensor preview = req.previews() ? parts.preview(denoised != null ? denoised : latents) : null;
            req.progress().onStep(new ProgressEvent(done, total, java.time.Duration.ofNanos(el),
                    java.time.Duration.ofNanos(el / done * (total - done)), preview));
        }
        long t2 = System.nanoTime();
        parts.releaseWeights(Checkpoint.UNET);
        cancel.check();

        // 4. Decode: LCM decodes its last denoised sample, the others their final latents.
        Tensor fin = (lcmSampler && denoised != null) ? denoised : latents;
        Tensor images = parts.decode(fin);
        parts.releaseWeights(Checkpoint.VAE);
        trace.onDecode(fin, images);
        if (inpaint != null && req.composite()) images = Inpainting.composite(req.initImage(), images, mask, req.maskBlur());
        long t3 = System.nanoTime();
        List<Tensor> out = new ArrayList<>();
        int per = 3 * images.dim(2) * images.dim(3);
        for (int b = 0; b < batch; b++) {
            float[] d = new float[per];
            System.arraycopy(images.data(), b * per, d, 0, per);
            out.add(new Tensor(d, 3, images.dim(2), images.dim(3)));
        }
        Map<String, Double> timings = new LinkedHashMap<>();
        timings.put("text_encoder", (t1 - t0) / 1e9);
        timings.put("unet", (t2 - t1) / 1e9);
        timings.put("vae", (t3 - t2) / 1e9);
        timings.put("total", (t3 - t0) / 1e9);
        List<String> params = new ArrayList<>();
        for (int b = 0; b < batch; b++) params.add(parameters(req, r, b));
        return new GenerationResult(List.copyOf(out), r.seed(), List.copyOf(params), java.util.Collections.unmodifiableMap(timings));
    }

    /** True when the request runs classifier-free guidance (a second U-Net pass on the negative prompt). */
    private boolean usesCfg(Resolved r) { return parts.unet().config().timeCondProjDim() <= 0 && r.guidance() > 1f; }

    /**
     * What a request sets that this model ignores, or sets implicitly, in words for the user (none when all is
     * used): a negative prompt without classifier-free guidance, and the LCM sampler's guidance of 1 on an SD model.
     *
     * @param req the request
     * @return one sentence per note, naming the flag that changes it; empty when all is used
     */

    public List<String> notes(GenerationRequest req) {
        Resolved r = resolve(req);
        List<String> notes = new ArrayList<>();
        boolean lcmUnet = parts.unet().config().timeCondProjDim() > 0;
        if (r.sampler().equals("lcm") && !lcmUnet && Float.isNaN(req.guidanceScale()))
            notes.add("the lcm sampler on this " + family() + " model (not LCM-distilled) runs without classifier-free guidance (CFG 1); set a guidance scale (--cfg) to use it");
        if (!req.negativePrompt().isEmpty() && !usesCfg(r))
            notes.add("the negative prompt (-n) is ignored: " + (lcmUnet ? "LCM models run without classifier-free guidance"
                    : "classifier-free guidance is off (guidance scale " + r.guidance() + " <= 1)"));
        return notes;
    }

    /**
     * The A1111-style parameters text of image {@code image} of the batch: what was used, with that image's seed (so
     * that it reproduces the image alone); a negative prompt is written only where it was used (with CFG).
     */
    String parameters(GenerationRequest req, Resolved r, int image) {
        StringBuilder sb = new StringBuilder(req.prompt());
        if (!req.negativePrompt().isEmpty() && usesCfg(r)) sb.append("\nNegative prompt: ").append(req.negativePrompt());
        sb.append("\nSteps: ").append(r.steps())
                .append(", Sampler: ").append(Schedulers.displayName(r.sampler()))

                .append(", CFG scale: ").append(r.guidance())
                .append(", Seed: ").append(BatchNoise.imageSeed(r.seed(), image, req.sharedBatchNoise()))
                .append(", Size: ").append(r.width()).append('x').append(r.height())
                .append(", Model: ").append(modelName());
        String prediction = parts.options().prediction();
        // a v-prediction model (its scheduler config, or a single file detected as v by PredictionDetector) says so too
        if (prediction == null && parts.schedulerConfig() != null
                && "v_prediction".equals(parts.schedulerConfig().path("prediction_type").asText(""))) prediction = "v_prediction";
        if (prediction != null) sb.append(", Prediction: ").append(prediction.equals("v_prediction") ? "v" : "eps");
        if (req.clipSkip() > 1) sb.append(", Clip skip: ").append(req.clipSkip());
        if (req.initImage() != null) sb.append(", Denoising strength: ").append(req.strength());
        if (req.sharedBatchNoise() && req.batch() > 1) sb.append(", Batch size: ").append(req.batch()).append(", Batch pos: ").append(image);
        String hashes = loras.hashes(loras.select(req).loras());
        if (!hashes.isEmpty()) sb.append(", Lora hashes: \"").append(hashes).append('"');
        sb.append(", Version: jdiffusion");
        return sb.toString();
    }

    /**
     * The negative prompt as the conditioner takes it: null (zeros) for an empty one when an SDXL model says
     * force_zeros_for_empty_prompt, as diffusers does when no negative prompt is given.
     */
    private String negative(GenerationRequest req) {
        boolean zeros = parts.sdxl() != null && parts.sdxl().forceZerosForEmptyPrompt() && req.negativePrompt().isEmpty();
        return zeros ? null : req.negativePrompt();
    }

    static Tensor copy(Tensor t) { return new Tensor(t.data().clone(), t.shape()); }

    static float[] repeat(float v, int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    static void scale(Tensor t, float s) {
        if (s == 1f) return;
        float[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] *= s;
    }

    static Tensor concat(Tensor a, Tensor b) {
        float[] d = new float[a.numel() + b.numel()];
        System.arraycopy(a.data(), 0, d, 0, a.numel());
        System.arraycopy(b.data(), 0, d, a.numel(), b.numel());
        int[] s = a.shape();
        s[0] += b.dim(0);
        return new Tensor(d, s);
    }

    /** uncond + g * (cond - uncond) on a [2B, ...] batch ordered [uncond, cond]. */
    static Tensor guide(Tensor out, float g) {
        int half = out.numel() / 2;
        float[] o = out.data(), d = new float[half];
        for (int i = 0; i < half; i++) d[i] = o[i] + g * (o[half + i] - o[i]);
        int[] s = out.shape();
        s[0] /= 2;
        return new Tensor(d, s);
    }

    /**
     * Closes the model: generations waiting for their turn end with a {@link CancellationException} at once; a
     * generation in progress finishes, then the weights and the compute pool are released. Called from inside a
     * generation (e.g. a progress listener), it returns at once and the release follows that generation.
     */
    @Override public void close() {
        lock.lock();
        try {
            closed = true;
            turn.signalAll();
            if (running == Thread.currentThread()) return;
            while (running != null) turn.awaitUninterruptibly();
            release();
        } finally {
            lock.unlock();
        }
    }
}

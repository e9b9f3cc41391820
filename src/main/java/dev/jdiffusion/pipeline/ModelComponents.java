package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.model.vae.AutoencoderKL;
import dev.jdiffusion.model.vae.Autoencoders;
import dev.jdiffusion.model.vae.ImageAutoencoder;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.lora.LoraApplier;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.LoraTargets;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of a loaded model: tokenizer, text encoder, U-Net, VAE, optional TAESD, scheduler config and family.
 * Everything is validated at load; the weights stay memory-mapped until {@link #close()}.
 *
 * <p>Memory: a component's weight pages count in the process's resident set once read. {@link #releaseWeights}
 * drops them again when the component is done (the generation calls it after the text encoder, the denoising loop
 * and the decode), so the text encoder, U-Net and VAE are never all resident at once, and the U-Net's pages are
 * released module by module during each step ({@link #unetModuleListener}). In low-memory mode
 * ({@link ModelOptions#withLowMemory}) the VAE also decodes in tiles of {@link #LOW_MEMORY_TILE} latent pixels.
 *
 * <p>Lifecycle: owned by the {@link StableDiffusion} that loaded it (or by whoever called {@link #load}). After
 * {@link #close()} every method but close throws an {@link IllegalStateException}.
 */

public final class ModelComponents implements AutoCloseable {
    /** VAE tile side (latent pixels) in low-memory mode: 256 x 256 image tiles for SD, overlap 0.25. */
    public static final int LOW_MEMORY_TILE = 32;
    /**
     * Bytes of Winograd-transformed filters that the weights of each of a low-memory model's files may cache,
     * whatever the process-wide budget ({@link Conv2d#winogradCacheBudget()}, which bounds other models): none.
     */

    public static final long LOW_MEMORY_FILTER_CACHE = 0;


    private final String name;
    private final ModelFamily family;
    private final ClipTokenizer tokenizer;
    private final ClipTextEncoder textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final ImageAutoencoder taesd;
    private final boolean taesdDecode;
    private final JsonNode schedulerConfig;
    private final List<AutoCloseable> owned;
    private final ModelOptions options;
    private final Map<String, WeightPages> pages;
    private volatile boolean closed;
    private LoraApplier loras;
    private List<LoraApplier.Weighted> appliedLoras = List.of();
    private final Sdxl sdxl;

    /**
     * SDXL's extra parts: the second tokenizer and text encoder, and model_index's force_zeros_for_empty_prompt.
     * The first encoder is null for the refiner (only the second one).
     *
     * @param tokenizer2               the second encoder's tokenizer (a single file's: the first one's vocabulary,
     *                                 padded with "!")
     * @param textEncoder2             the second text encoder (OpenCLIP ViT-bigG, with its text projection)
     * @param forceZerosForEmptyPrompt true: an empty negative prompt is encoded as zeros, not as the empty text
     *                                 (true when model_index.json does not say)
     */
    public record Sdxl(ClipTokenizer tokenizer2, ClipTextEncoder textEncoder2, boolean forceZerosForEmptyPrompt) {}

    private ModelComponents(String name, ModelFamily family, ClipTokenizer tokenizer, ClipTextEncoder textEncoder,
                            UNet2DConditionModel unet, AutoencoderKL vae, ImageAutoencoder taesd, boolean taesdDecode,
                            JsonNode schedulerConfig, List<AutoCloseable> owned, ModelOptions options, Map<String, WeightPages> pages,
                            Sdxl sdxl) {
        this.name = name;
        this.family = family;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.taesd = taesd;
        this.taesdDecode = taesdDecode;
        this.schedulerConfig = schedulerConfig;
        this.owned = owned;
        this.options = options;
        this.pages = pages;
        this.sdxl = sdxl;
    }

    /** {@return SDXL's second encoder and tokenizer, or null for SD 1.x/2.x models} */
    public Sdxl sdxl() { open(); return sdxl; }

    /** {@return the model's short name (its folder or file name)} */
    public String name() { open(); return name; }
    /** {@return the model family, detected at load} */
    public ModelFamily family() { open(); return family; }
    /** {@return the tokenizer of the (first) text encoder} */
    public ClipTokenizer tokenizer() { open(); return tokenizer; }
    /** {@return the (first) CLIP text encoder; null for an SDXL refiner, which has only the second} */
    public ClipTextEncoder textEncoder() { open(); return textEncoder; }
    /** {@return the denoising U-Net} */
    public UNet2DConditionModel unet() { open(); return unet; }
    /** {@return the KL VAE, or null when only TAESD decoding is available} */
    public AutoencoderKL vae() { open(); return vae; }
    /** {@return the fast tiny autoencoder (TAESD family) for previews and --fast-decode, or null} */
    public ImageAutoencoder taesd() { open(); return taesd; }
    /**
     * {@return the model's scheduler config (scheduler_config.json; with {@link ModelOptions#withPrediction} its
     * prediction_type replaced), or null for a single file without that override (family defaults apply)}
     *
     * @throws IllegalStateException once closed
     */
    public JsonNode schedulerConfig() { open(); return schedulerConfig; }
    /** {@return the options the parts were loaded with} */
    public ModelOptions options() { open(); return options; }
    /** {@return true when final images are decoded with TAESD rather than the KL VAE} */
    public boolean decodesWithTaesd() { open(); return taesdDecode; }


    /**
     * Loads and validates every part. Closes whatever it opened when anything fails.
     *
     * @param o the model path and its options
     * @return the parts, holding their files mapped until {@link #close()}
     * @throws ModelFormatException     missing or malformed model files
     * @throws IllegalArgumentException options that do not fit the model
     */
    public static ModelComponents load(ModelOptions o) { return load(o, part -> {}); }

    /**
     * As {@link #load(ModelOptions)}, telling {@code status} each part as its loading starts.
     *
     * @param o      the model path and its options
     * @param status called on the loading thread with "U-Net", "text encoder", "VAE" or "VAE, TAESD" before each part
     * @return the parts, holding their files mapped until {@link #close()}
     * @throws ModelFormatException     missing or malformed model files
     * @throws IllegalArgumentException options that do not fit the model
     */
    public static ModelComponents load(ModelOptions o, java.util.function.Consumer<String> status) {
        Conv2d.checkWinogradCacheProperty();
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            Checkpoint ck = Checkpoint.open(o.model());
            owned.add(ck);
            String name = o.model().getFileName().toString().replaceFirst("\\.safetensors$", "");

            requireParts(o, ck);
            status.accept("U-Net");
            Map<String, WeightPages> pages = new HashMap<>();
            TensorSource unetTensors = ck.tensors(Checkpoint.UNET);
            pages.put(Checkpoint.UNET, new WeightPages(unetTensors));
            LoraTargets unetTargets = new LoraTargets(unetTensors);
            UNet2DConditionModel unet = UNet2DConditionModel.load(unetTargets, config(o, ck, Checkpoint.UNET));

            status.accept("text encoder");
            boolean xl = unet.config().hasAddedConditioning();
            boolean refiner = xl && !ck.has(Checkpoint.TEXT_ENCODER) && ck.has(Checkpoint.TEXT_ENCODER_2) && o.textEncoder() == null;
            ClipTokenizer tok = refiner ? null : loadTokenizer(o, ck, unet);
            List<LoraTargets> teTargets = new ArrayList<>();
            ClipTextEncoder te = refiner ? null : loadTextEncoder(o, ck, owned, pages, teTargets);
            if (te != null && (!o.adapters().embeddings().isEmpty() || o.adapters().embeddingDir() != null)) {
                Embeddings.Added e = Embeddings.apply(tok, te, o.adapters());
                tok = e.tokenizer();
                te = e.encoder();
            }
            if (te != null) releasePerLayer(te, pages.get(Checkpoint.TEXT_ENCODER));
            Sdxl sdxl = xl ? loadSdxl(o, ck, tok, pages, teTargets) : null;
            if (refiner && sdxl.textEncoder2().config().hiddenSize() != unet.config().crossAttentionDim())
                throw new ModelFormatException(o.model() + ": the U-Net takes a context " + unet.config().crossAttentionDim() + " wide but the second "
                        + "text encoder alone gives " + sdxl.textEncoder2().config().hiddenSize() + ": the first text encoder (text_encoder/) is "
                        + "missing (only a refiner runs on the second alone); pass --text-encoder PATH");
            if (sdxl != null) releasePerLayer(sdxl.textEncoder2(), pages.get(Checkpoint.TEXT_ENCODER_2));
            ImageAutoencoder taesd = null;
            status.accept(o.taesd() != null ? "VAE, TAESD" : "VAE");
            if (o.taesd() != null) {
                taesd = Autoencoders.open(o.taesd());
                owned.add(taesd);
                checkLatents(unet, taesd, "--taesd " + o.taesd());
            }
            AutoencoderKL vae = null;
            if (o.vae() != null) {
                ImageAutoencoder ae = Autoencoders.open(o.vae());
                owned.add(ae);
                checkLatents(unet, ae, "--vae " + o.vae());
                if (ae instanceof AutoencoderKL kl) vae = kl;
                else if (taesd == null) taesd = ae;
            } else if (ck.has(Checkpoint.VAE)) {
                TensorSource vaeTensors = ck.tensors(Checkpoint.VAE);
                pages.put(Checkpoint.VAE, new WeightPages(vaeTensors));
                JsonNode vaeConfig = config(o, ck, Checkpoint.VAE);
                // an SDXL file without a config: SDXL's VAE scaling factor, not SD 1.x's
                vae = vaeConfig == null && xl ? AutoencoderKL.load(vaeTensors, dev.jdiffusion.model.vae.VaeConfig.SDXL)
                        : AutoencoderKL.load(vaeTensors, vaeConfig);
            }
            if (o.lowMemory() && vae != null) vae.setTiling(AutoencoderKL.Tiling.ON).setTileSize(LOW_MEMORY_TILE, AutoencoderKL.DEFAULT_OVERLAP);
            if (o.useTaesdForDecode() && taesd == null)
                throw new IllegalArgumentException("decoding with TAESD needs a TAESD decoder (ModelOptions.withTaesd, --taesd)");
            if (vae == null && taesd == null)
                throw new ModelFormatException(o.model() + ": no VAE found; pass a VAE (--vae) or a TAESD decoder (--taesd)");
            JsonNode sched = config(o, ck, Checkpoint.SCHEDULER);
            ModelFamily fam = ModelFamily.detect(unet.config(), sched);
            checkScheduler(o, sched, fam);
            if (sched == null && o.prediction() == null && ck.singleFile() != null
                    && PredictionDetector.detect(ck.singleFile()).predictionType().equals("v_prediction"))
                sched = dev.jdiffusion.sampling.Schedulers.defaultConfig(true); // SD 2.x v-prediction single file (PredictionDetector)
            if (o.prediction() != null) { // --prediction: every sampler reads prediction_type from this config
                com.fasterxml.jackson.databind.node.ObjectNode c = sched == null
                        ? dev.jdiffusion.sampling.Schedulers.defaultConfig(false) : ((com.fasterxml.jackson.databind.node.ObjectNode) sched).deepCopy();
                sched = c.put("prediction_type", o.prediction());
            }
            if (o.lowMemory())
                for (WeightPages p : pages.values()) for (var scope : p.scopes()) Conv2d.capWinogradCache(scope, LOW_MEMORY_FILTER_CACHE);
            ModelComponents mc = new ModelComponents(name, fam, tok, te, unet, vae, taesd, o.useTaesdForDecode() || vae == null, sched, owned,
                    o, Map.copyOf(pages), sdxl);
            mc.loras = new LoraApplier(unetTargets, unet.config().layersPerBlock()[0], refiner ? null : teTargets.get(0),
                    sdxl == null ? null : teTargets.get(teTargets.size() - 1));
            return mc;
        } catch (RuntimeException e) {
            closeAll(owned);
            throw e;
        }
    }

    /**
     * A decoder must take the U-Net's latents: a TAESD or VAE of another latent width (a 16- or 32-channel FLUX
     * autoencoder on a 4-channel SD model) is refused at load, naming the option it came from.
     */
    private static void checkLatents(UNet2DConditionModel unet, ImageAutoencoder ae, String from) {
        int want = unet.config().outChannels();
        if (ae.latentChannels() != want)
            throw new ModelFormatException(from + ": an autoencoder of " + ae.latentChannels() + "-channel latents does not fit this "
                    + "model's " + want + "-channel latents (it belongs to another model family); use one made for this model");
    }

    /** Every missing part named at once (as info does), with the flag that supplies it, before anything loads. */
    private static void requireParts(ModelOptions o, Checkpoint ck) {
        List<String> missing = new ArrayList<>();
        if (!ck.has(Checkpoint.UNET)) missing.add("U-Net weights (unet/)");
        // an SDXL refiner has only the second encoder (checked against its U-Net once that is loaded)
        if (o.textEncoder() == null && !ck.has(Checkpoint.TEXT_ENCODER) && !ck.has(Checkpoint.TEXT_ENCODER_2))
            missing.add("text encoder (pass --text-encoder PATH)");
        if (o.vae() == null && o.taesd() == null && !ck.has(Checkpoint.VAE))
            missing.add("VAE (pass a VAE with --vae or a TAESD decoder with --taesd)");
        if (!missing.isEmpty()) throw new ModelFormatException(o.model() + ": missing " + String.join(", ", missing));
    }

    /** A scheduler config the samplers cannot use is a model-file error at load, not a surprise at the first generate. */
    private static void checkScheduler(ModelOptions o, JsonNode sched, ModelFamily fam) {
        if (sched == null) return;
        try {
            dev.jdiffusion.sampling.Schedulers.create(fam.defaultSampler(), sched);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new ModelFormatException(o.model() + ": scheduler config: " + e.getMessage(), e);
        }
    }

    /** The component's config: the model's own, else the --config folder's, else null (inferred from shapes). */
    private static JsonNode config(ModelOptions o, Checkpoint ck, String component) {
        JsonNode c = ck.config(component);
        if (c != null || o.config() == null) return c;
        try (Checkpoint cfg = Checkpoint.open(o.config())) {
            return cfg.config(component);
        }
    }

    /**
     * The tokenizer: --tokenizer, else the model's tokenizer/ folder, else the --config folder's, else a tokenizer/
     * folder beside a single file, else the CLIP vocabulary bundled in the jar (the same for every SD family; SD 2.x,
     * whose text encoder is OpenCLIP's, pads with "!").
     */
    private static ClipTokenizer loadTokenizer(ModelOptions o, Checkpoint ck, UNet2DConditionModel unet) {
        if (o.tokenizer() != null) return ClipTokenizer.load(o.tokenizer());
        if (ck.has(Checkpoint.TOKENIZER)) return ClipTokenizer.load(ck.componentDir(Checkpoint.TOKENIZER));
        if (o.config() != null && Files.isRegularFile(o.config().resolve("tokenizer").resolve("vocab.json")))
            return ClipTokenizer.load(o.config().resolve("tokenizer"));
        Path sibling = o.model().toAbsolutePath().getParent() == null ? null : o.model().toAbsolutePath().getParent().resolve("tokenizer");
        if (ck.layout() == Checkpoint.Layout.SINGLE_FILE && sibling != null && Files.isRegularFile(sibling.resolve("vocab.json")))
            return ClipTokenizer.load(sibling);
        return unet.config().crossAttentionDim() == 1024 ? ClipTokenizer.bundled("!") : ClipTokenizer.bundled();
    }

    private static ClipTextEncoder loadTextEncoder(ModelOptions o, Checkpoint ck, List<AutoCloseable> owned, Map<String, WeightPages> pages,
                                                   List<LoraTargets> targets) {
        if (o.textEncoder() != null) {
            Checkpoint te = Checkpoint.openComponent(o.textEncoder(), Checkpoint.TEXT_ENCODER);
            owned.add(te);
            TensorSource t = te.tensors(Checkpoint.TEXT_ENCODER);
            pages.put(Checkpoint.TEXT_ENCODER, new WeightPages(t));
            targets.add(new LoraTargets(t));
            return ClipTextEncoder.load(targets.get(0), te.config(Checkpoint.TEXT_ENCODER));
        }
        if (!ck.has(Checkpoint.TEXT_ENCODER))
            throw new ModelFormatException(o.model() + ": no text encoder found; pass --text-encoder PATH");
        TensorSource t = ck.tensors(Checkpoint.TEXT_ENCODER);
        pages.put(Checkpoint.TEXT_ENCODER, new WeightPages(t));
        targets.add(new LoraTargets(t));
        return ClipTextEncoder.load(targets.get(0), config(o, ck, Checkpoint.TEXT_ENCODER));
    }

    /**
     * Sets the LoRAs every later use of the U-Net and text encoder computes with (replacing the previous set; an
     * empty list clears them): the mapped weights stay as they are, the kernels add the low-rank terms while packing.
     * Not while a generation runs ({@link StableDiffusion} applies them under its lock).
     *
     * @param list the LoRAs with their weights, in the order their terms are added
     * @throws ModelFormatException a key that does not resolve or fit (nothing is changed then)
     */
    public void applyLoras(List<LoraApplier.Weighted> list) {
        open();
        if (list.equals(appliedLoras)) return;
        loras.apply(list);
        appliedLoras = List.copyOf(list);
    }

    /**
     * The weight a LoRA file's module modifies in this model (see {@link LoraApplier#weightFor}).
     *
     * @param f the LoRA file
     * @param m one of its modules
     * @return the name of the model's weight tensor the module modifies
     */
    public String loraWeightFor(dev.jdiffusion.lora.LoraFile f, dev.jdiffusion.lora.LoraFile.Module m) { open(); return loras.weightFor(f, m); }

    /** {@return the LoRAs set now by {@link #applyLoras} (an unmodifiable list; empty for none)} */
    public List<LoraApplier.Weighted> appliedLoras() { open(); return appliedLoras; }

    /**
     * Drops each text encoder layer's weight pages once the layer has run (as the U-Net's per module), so that an
     * encoding keeps about one layer resident (SDXL's second encoder: ~40 MB of its 1.4 GB) instead of the whole file.
     */
    private static void releasePerLayer(ClipTextEncoder te, WeightPages p) {
        if (p == null || !WeightPages.available()) return;
        te.onLayerDone(i -> p.release("text_model.encoder.layers." + i));
    }

    /** The second encoder and tokenizer of an SDXL model; a clear error naming what is missing. */
    private static Sdxl loadSdxl(ModelOptions o, Checkpoint ck, ClipTokenizer tok1, Map<String, WeightPages> pages,
                                 List<LoraTargets> teTargets) {
        if (!ck.has(Checkpoint.TEXT_ENCODER_2))
            throw new ModelFormatException(o.model() + ": this is an SDXL model (its U-Net takes text_time added conditioning) but it has no "
                    + "second text encoder (" + (ck.layout() == Checkpoint.Layout.DIFFUSERS ? "text_encoder_2/ folder"
                    : "conditioner.embedders.1.model.* tensors") + "); use the complete model");
        TensorSource t = ck.tensors(Checkpoint.TEXT_ENCODER_2);
        pages.put(Checkpoint.TEXT_ENCODER_2, new WeightPages(t));
        LoraTargets targets = new LoraTargets(t);
        teTargets.add(targets);
        // a single file's second encoder is OpenCLIP ViT-bigG (exact erf gelu) when no config says otherwise
        ClipTextEncoder te2 = ClipTextEncoder.load(targets, config(o, ck, Checkpoint.TEXT_ENCODER_2),
                ck.layout() == Checkpoint.Layout.SINGLE_FILE ? dev.jdiffusion.model.clip.ClipTextConfig.Activation.GELU
                        : dev.jdiffusion.model.clip.ClipTextConfig.Activation.QUICK_GELU);
        if (!te2.hasProjection())
            throw new ModelFormatException(o.model() + ": SDXL's second text encoder has no text_projection (CLIPTextModelWithProjection)");
        ClipTokenizer tok2;
        if (ck.has(Checkpoint.TOKENIZER_2)) tok2 = ClipTokenizer.load(ck.componentDir(Checkpoint.TOKENIZER_2));
        else if (o.config() != null && Files.isRegularFile(o.config().resolve(Checkpoint.TOKENIZER_2).resolve("vocab.json")))
            tok2 = ClipTokenizer.load(o.config().resolve(Checkpoint.TOKENIZER_2));
        else if (ck.layout() == Checkpoint.Layout.DIFFUSERS && tok1 == null)
            throw new ModelFormatException(o.model() + ": SDXL model without tokenizer_2/ (vocab.json, merges.txt)");
        else if (ck.layout() == Checkpoint.Layout.DIFFUSERS)
            throw new ModelFormatException(o.model() + ": SDXL model folder has no tokenizer_2/ (vocab.json, merges.txt): the second "
                    + "text encoder's tokenizer is missing");
        else tok2 = tok1 != null ? tok1.withPadToken("!") : ClipTokenizer.bundled("!"); // the same vocabulary, padded with "!"
        JsonNode index = ck.layout() == Checkpoint.Layout.DIFFUSERS && Files.isRegularFile(o.model().resolve("model_index.json"))
                ? Checkpoint.readJson(o.model().resolve("model_index.json")) : null;
        boolean zeros = index == null || index.path("force_zeros_for_empty_prompt").asBoolean(true);
        return new Sdxl(tok2, te2, zeros);
    }

    /** Committed Java heap above which {@link #trimHeap} collects. */
    static final long TRIM_HEAP_ABOVE = 512L << 20;

    /**
     * Bytes of mapped weight pages resident at a generation's peak: the largest of the VAE, a U-Net module and a text
     * encoder's layer (or the whole U-Net and encoders where pages cannot be released).
     *
     * @return bytes; for a replacement VAE file that cannot be released, its file size counts
     */
    public long residentWeightBytes() {
        open();
        long max = 0;
        for (Map.Entry<String, WeightPages> e : pages.entrySet())
            max = Math.max(max, !e.getKey().equals(Checkpoint.VAE) && WeightPages.available() ? e.getValue().largestModuleBytes() : e.getValue().bytes());
        if (!pages.containsKey(Checkpoint.VAE) && vae != null) max = Math.max(max, vaeFileBytes());
        return max;
    }

    private long vaeFileBytes() {
        try {
            return options.vae() != null && Files.isRegularFile(options.vae()) ? Files.size(options.vae()) : 0;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    /**
     * {@return bytes of Winograd-transformed filters the U-Net's and VAE's 3x3 convolutions could cache, before the
     * cache's budget: 64 bytes per (output, input) channel pair of each 3x3 weight with enough channels; in low-memory
     * mode at most {@link #LOW_MEMORY_FILTER_CACHE} per file}
     */
    public long winogradFilterBytes() {
        open();
        Map<java.lang.foreign.MemorySegment.Scope, Long> perFile = new HashMap<>();
        long unscoped = 0;
        for (WeightPages p : pages.values()) {
            long b = p.winogradFilterBytes(Conv2d.WINOGRAD_MIN_CHANNELS);
            var scopes = p.scopes();
            if (scopes.size() == 1) perFile.merge(scopes.iterator().next(), b, Long::sum);
            else unscoped += b;
        }
        long sum = unscoped;
        for (long b : perFile.values()) sum += options.lowMemory() ? Math.min(b, LOW_MEMORY_FILTER_CACHE) : b;
        return sum;
    }


    /** {@return true in low-memory mode ({@link ModelOptions#withLowMemory})} */
    public boolean lowMemory() { open(); return options.lowMemory(); }

    /**
     * Drops the weight pages of a component ({@link Checkpoint#TEXT_ENCODER}, {@link Checkpoint#UNET} or
     * {@link Checkpoint#VAE}) from this process's resident set; they stay in the page cache and are mapped again
     * when next read. Call it only between uses of the component. Returns false where that is not possible
     * (no {@code madvise}: not Linux; a replacement VAE given as its own file), which changes nothing else.
     *
     * @param component the component's name, as {@link Checkpoint} names it
     * @return true when the pages were released
     */
    public boolean releaseWeights(String component) {
        open();
        WeightPages p = pages.get(component);
        return p != null && p.releaseAll();
    }

    /**
     * The listener to pass to {@link UNet2DConditionModel#forward(Tensor, float[], Tensor, Tensor,
     * java.util.function.BiConsumer, java.util.function.Consumer)}: it releases each U-Net module's weight pages once
     * the module has run, so only about one module's weights (at most ~100 MB for SD 1.5 in fp16) are resident at a
     * time instead of the whole U-Net. The next step maps them again from the page cache (minor faults: measured at
     * no visible cost per step).
     *
     * @return a listener taking each module's name once it has run, or null where pages cannot be released (no madvise)
     */
    public java.util.function.Consumer<String> unetModuleListener() {
        open();
        WeightPages p = pages.get(Checkpoint.UNET);
        if (p == null || !WeightPages.available()) return null;
        return p::release;
    }

    /**
     * Latents (as the sampler produces them) to images, as diffusers decodes them, with the VAE (tiled in low-memory
     * mode) or TAESD ({@link #decodesWithTaesd}).
     *
     * @param latents [B, C, h, w] latents, before the VAE's scaling factor is divided out
     * @return new images [B, 3, 8h, 8w] in [0, 1]
     */
    public Tensor decode(Tensor latents) {
        open();
        return (taesdDecode ? taesd : vae).decodeLatents(latents);
    }

    /**
     * A cheap preview of latents: TAESD when loaded, else a fixed linear latent-to-RGB map at 1/8 size.
     *
     * @param latents [B, C, h, w] latents
     * @return new images [B, 3, H, W] in [0, 1]: 8h x 8w with TAESD, h x w from the linear map
     */

    public Tensor preview(Tensor latents) {
        open();
        if (taesd != null) return taesd.decodeLatents(latents);
        return LatentPreview.rgb(latents);
    }

    static void closeAll(List<AutoCloseable> owned) {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // closing mapped files does not fail in practice; keep closing the rest
            }
        }
    }

    /** Fails once the model is closed: every public method but {@link #close} checks it first. */
    private void open() {
        if (closed) throw new IllegalStateException(name + ": the model is closed");
    }

    /** Unmaps the weights; every later call but close fails with an IllegalStateException. Idempotent. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        closeAll(owned);
    }
}

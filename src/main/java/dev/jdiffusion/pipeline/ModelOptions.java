package dev.jdiffusion.pipeline;

import dev.jdiffusion.gpu.Device;
import dev.jdiffusion.kernels.Parallel;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a model's parts come from: the model (diffusers folder or single-file checkpoint) and optional
 * replacements: a VAE (file or folder), a TAESD decoder/encoder (folder or file) for previews and fast decoding,
 * a tokenizer folder (needed for single files), a text encoder (folder or file), and a diffusers folder whose
 * config files describe a single-file checkpoint (when its shapes alone do not tell, e.g. attention head counts).
 *
 * @param useTaesdForDecode decode final images with TAESD instead of the full VAE
 * @param device            where to compute: "cpu" (default), "auto" or "cuda[:N]" (see {@link Device}); for now
 *                          the pipeline computes on the CPU, and "cuda" makes {@link StableDiffusion#load} fail in one
 *                          line (no usable GPU, or the GPU path not wired yet)
 * @param lowMemory         trade some decode speed for a much smaller resident set: the VAE decodes in small tiles
 *                          (see {@link #withLowMemory})
 * @param threads           compute threads for this model's generations; 0 (the default) takes
 *                          {@code -Djdiffusion.threads}, else the available cores. Models of the same size share one
 *                          pool, whose threads stop when the last of them closes (see {@link Parallel})
 */
public record ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                           boolean useTaesdForDecode, String device, boolean lowMemory, int threads, Adapters adapters,
                           String prediction) {
    /**
     * Checks the model path, the device name and the thread count.
     *
     * @throws IllegalArgumentException an unknown device, or threads outside 0..{@value Parallel#MAX_THREADS}
     */
    public ModelOptions {
        Objects.requireNonNull(model, "model");
        device = device == null ? "cpu" : Device.normalize(device);
        if (threads < 0 || threads > Parallel.MAX_THREADS)
            throw new IllegalArgumentException("threads must be from 1 to " + Parallel.MAX_THREADS + " (0: the default), got " + threads);
        adapters = adapters == null ? Adapters.NONE : adapters;
        if (prediction != null && !prediction.equals("epsilon") && !prediction.equals("v_prediction"))
            throw new IllegalArgumentException("prediction must be \"epsilon\" or \"v_prediction\" (null: the model's own), got \"" + prediction + "\"");
    }

    /** Options without a prediction override (the record before the prediction field). */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                        boolean useTaesdForDecode, String device, boolean lowMemory, int threads, Adapters adapters) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, null);
    }

    /** Options without adapters (the record before the adapters field). */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                        boolean useTaesdForDecode, String device, boolean lowMemory, int threads) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, Adapters.NONE);
    }

    /**
     * Adapters fixed at load: LoRAs every generation uses (before the request's own), textual-inversion embedding
     * files, and the folders that {@code <lora:NAME:WEIGHT>} prompt tags and embeddings are looked up in (null: none).
     */
    public record Adapters(java.util.List<LoraRef> loras, java.util.List<Path> embeddings, Path loraDir, Path embeddingDir) {
        public static final Adapters NONE = new Adapters(java.util.List.of(), java.util.List.of(), null, null);

        public Adapters {
            loras = java.util.List.copyOf(loras);
            embeddings = java.util.List.copyOf(embeddings);
        }
    }

    /** Options with the given adapters. */
    public ModelOptions withAdapters(Adapters a) {
        return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, a, prediction);
    }

    /** Adds a LoRA applied to every generation (after those added before). */
    public ModelOptions withLora(Path file, float weight) {
        java.util.List<LoraRef> l = new java.util.ArrayList<>(adapters.loras());
        l.add(new LoraRef(file, weight));
        return withAdapters(new Adapters(l, adapters.embeddings(), adapters.loraDir(), adapters.embeddingDir()));
    }

    /** Adds a textual-inversion embedding file (A1111 .safetensors or diffusers learned_embeds.safetensors). */
    public ModelOptions withEmbedding(Path file) {
        java.util.List<Path> l = new java.util.ArrayList<>(adapters.embeddings());
        l.add(file);
        return withAdapters(new Adapters(adapters.loras(), l, adapters.loraDir(), adapters.embeddingDir()));
    }

    /** The folder {@code <lora:NAME:WEIGHT>} prompt tags are resolved in (NAME.safetensors). */
    public ModelOptions withLoraDir(Path dir) {
        return withAdapters(new Adapters(adapters.loras(), adapters.embeddings(), dir, adapters.embeddingDir()));
    }

    /** A folder whose every .safetensors file is loaded as an embedding (trigger word = file name). */
    public ModelOptions withEmbeddingDir(Path dir) {
        return withAdapters(new Adapters(adapters.loras(), adapters.embeddings(), adapters.loraDir(), dir));
    }

    /** Options with the default thread count (the record before the threads field). */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                        boolean useTaesdForDecode, String device, boolean lowMemory) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, 0);
    }

    /** Options on the CPU without low-memory mode (the record before the device and lowMemory fields). */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config, boolean useTaesdForDecode) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, "cpu", false);
    }

    /** Just the model. */
    public static ModelOptions of(Path model) { return new ModelOptions(model, null, null, null, null, null, false, "cpu", false); }

    /** A replacement VAE (file or diffusers folder), or null for the model's own. */
    public ModelOptions withVae(Path p) { return new ModelOptions(model, p, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /** A TAESD decoder/encoder (folder or file) for previews and fast decoding, or null. */
    public ModelOptions withTaesd(Path p) { return new ModelOptions(model, vae, p, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /** A tokenizer folder (vocab.json, merges.txt), or null for the model's own or the bundled CLIP tokenizer. */
    public ModelOptions withTokenizer(Path p) { return new ModelOptions(model, vae, taesd, p, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /** A replacement text encoder (file or folder), or null for the model's own. */
    public ModelOptions withTextEncoder(Path p) { return new ModelOptions(model, vae, taesd, tokenizer, p, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /** A diffusers folder (with unet/, vae/, text_encoder/, scheduler/ configs) describing a single-file checkpoint. */
    public ModelOptions withConfig(Path p) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, p, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /** Decode final images with TAESD instead of the full VAE. */
    public ModelOptions withTaesdDecode(boolean on) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, on, device, lowMemory, threads, adapters, prediction); }

    /**
     * Where to compute: "cpu", "auto" or "cuda[:N]".
     *
     * @throws IllegalArgumentException any other name
     */
    public ModelOptions withDevice(String d) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, d, lowMemory, threads, adapters, prediction); }

    /**
     * Low-memory mode: the VAE decodes in tiles of {@link ModelComponents#LOW_MEMORY_TILE} latent pixels (blended at
     * the seams, as diffusers' tiled decode; the image then differs slightly from an untiled decode), so no full-size
     * decoder activation exists. Weights are used in place from the mapped files in both modes, and their pages are
     * released as components and U-Net modules finish (see {@link ModelComponents}). With the launcher's small heap
     * for this mode, SD 1.5 at 512 x 512 stays under 0.7 GB resident.
     */
    public ModelOptions withLowMemory(boolean on) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, on, threads, adapters, prediction); }

    /**
     * Compute threads for this model (0: {@code -Djdiffusion.threads}, else all cores). The count changes speed
     * only: images are bit-identical for any count.
     *
     * @throws IllegalArgumentException n outside 0..{@value Parallel#MAX_THREADS}
     */
    public ModelOptions withThreads(int n) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, n, adapters, prediction); }

    /**
     * Overrides what the U-Net predicts, for every sampler: "eps" / "epsilon" or "v" / "v_prediction" (null: the
     * model's own: its scheduler config, else the family default). SD 2.0-v and 2.1 (768 px) single files are
     * v-prediction models whose tensors look like the 512-px epsilon ones.
     *
     * @throws IllegalArgumentException any other name
     */
    public ModelOptions withPrediction(String p) {
        return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters,
                predictionType(p));
    }

    /** The scheduler prediction_type for a user's name: eps|epsilon, v|v_prediction; null stays null. */
    public static String predictionType(String p) {
        if (p == null) return null;
        return switch (p) {
            case "eps", "epsilon" -> "epsilon";
            case "v", "v_prediction" -> "v_prediction";
            default -> throw new IllegalArgumentException("unknown prediction \"" + p + "\"; choose eps or v");
        };
    }
}

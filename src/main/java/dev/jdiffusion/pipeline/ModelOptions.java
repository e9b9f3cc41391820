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
 * Immutable: every {@code with...} method returns new options. Paths are checked when the model loads, not here.
 *
 * @param model             the model: a diffusers folder or a single-file .safetensors checkpoint; not null
 * @param vae               a replacement VAE (file or diffusers folder), or null for the model's own
 * @param taesd             a TAESD decoder/encoder (folder or file) for previews and fast decoding, or null
 * @param tokenizer         a tokenizer folder (vocab.json, merges.txt), or null for the model's own or the bundled
 *                          CLIP tokenizer
 * @param textEncoder       a replacement text encoder (file or folder), or null for the model's own
 * @param config            a diffusers folder whose configs describe a single-file checkpoint, or null
 * @param useTaesdForDecode decode final images with TAESD instead of the full VAE
 * @param device            where to compute: "cpu" (default), "auto" or "cuda[:N]" (see {@link Device}); for now
 *                          the pipeline computes on the CPU, and "cuda" makes {@link StableDiffusion#load} fail in one
 *                          line (no usable GPU, or the GPU path not wired yet)
 * @param lowMemory         trade some decode speed for a much smaller resident set: the VAE decodes in small tiles
 *                          (see {@link #withLowMemory})
 * @param threads           compute threads for this model's generations; 0 (the default) takes
 *                          {@code -Djdiffusion.threads}, else the available cores. Models of the same size share one
 *                          pool, whose threads stop when the last of them closes (see {@link Parallel})
 * @param adapters          LoRAs, embeddings and their folders fixed at load ({@link Adapters#NONE} when null)
 * @param prediction        the U-Net's prediction type override, "epsilon" or "v_prediction" (see
 *                          {@link #withPrediction}), or null for the model's own
 */
public record ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                           boolean useTaesdForDecode, String device, boolean lowMemory, int threads, Adapters adapters,
                           String prediction) {
    /**
     * Checks the model path, the device name and the thread count.
     *
     * @throws NullPointerException     when model is null
     * @throws IllegalArgumentException an unknown device, threads outside 0..{@value Parallel#MAX_THREADS}, or a
     *                                  prediction other than "epsilon" or "v_prediction"
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

    /**
     * Options without a prediction override (the record before the prediction field).
     *
     * @param model             the model folder or file
     * @param vae               a replacement VAE, or null
     * @param taesd             a TAESD folder or file, or null
     * @param tokenizer         a tokenizer folder, or null
     * @param textEncoder       a replacement text encoder, or null
     * @param config            a diffusers folder describing a single file, or null
     * @param useTaesdForDecode decode final images with TAESD
     * @param device            "cpu", "auto" or "cuda[:N]" (null: "cpu")
     * @param lowMemory         low-memory mode
     * @param threads           compute threads, 0 for the default
     * @param adapters          adapters fixed at load, or null for none
     */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                        boolean useTaesdForDecode, String device, boolean lowMemory, int threads, Adapters adapters) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, null);
    }

    /**
     * Options without adapters (the record before the adapters field).
     *
     * @param model             the model folder or file
     * @param vae               a replacement VAE, or null
     * @param taesd             a TAESD folder or file, or null
     * @param tokenizer         a tokenizer folder, or null
     * @param textEncoder       a replacement text encoder, or null
     * @param config            a diffusers folder describing a single file, or null
     * @param useTaesdForDecode decode final images with TAESD
     * @param device            "cpu", "auto" or "cuda[:N]" (null: "cpu")
     * @param lowMemory         low-memory mode
     * @param threads           compute threads, 0 for the default
     */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                        boolean useTaesdForDecode, String device, boolean lowMemory, int threads) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, Adapters.NONE);
    }

    /**
     * Adapters fixed at load: LoRAs every generation uses (before the request's own), textual-inversion embedding
     * files, and the folders that {@code <lora:NAME:WEIGHT>} prompt tags and embeddings are looked up in (null: none).
     *
     * @param loras        LoRAs every generation applies, in order; copied
     * @param embeddings   textual-inversion embedding files; copied
     * @param loraDir      the folder prompt tags' LoRA names are resolved in (NAME.safetensors), or null
     * @param embeddingDir a folder whose every .safetensors file is an embedding (trigger word = file name), or null
     */
    public record Adapters(java.util.List<LoraRef> loras, java.util.List<Path> embeddings, Path loraDir, Path embeddingDir) {
        /** No LoRAs, no embeddings, no folders. */
        public static final Adapters NONE = new Adapters(java.util.List.of(), java.util.List.of(), null, null);

        /**
         * Copies the lists (unmodifiable from then on).
         *
         * @throws NullPointerException when a list, or an element of one, is null
         */
        public Adapters {
            loras = java.util.List.copyOf(loras);
            embeddings = java.util.List.copyOf(embeddings);
        }
    }

    /**
     * Options with the given adapters.
     *
     * @param a the adapters, replacing the current ones; null for none
     * @return new options
     */
    public ModelOptions withAdapters(Adapters a) {
        return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, a, prediction);
    }

    /**
     * Adds a LoRA applied to every generation (after those added before).
     *
     * @param file   the LoRA .safetensors file (read at load)
     * @param weight its multiplier, finite, within [-100, 100]
     * @return new options
     * @throws IllegalArgumentException a weight out of range
     */
    public ModelOptions withLora(Path file, float weight) {
        java.util.List<LoraRef> l = new java.util.ArrayList<>(adapters.loras());
        l.add(new LoraRef(file, weight));
        return withAdapters(new Adapters(l, adapters.embeddings(), adapters.loraDir(), adapters.embeddingDir()));
    }

    /**
     * Adds a textual-inversion embedding file (A1111 .safetensors or diffusers learned_embeds.safetensors).
     *
     * @param file the embedding file; its file name (without extension) is the trigger word
     * @return new options
     */
    public ModelOptions withEmbedding(Path file) {
        java.util.List<Path> l = new java.util.ArrayList<>(adapters.embeddings());
        l.add(file);
        return withAdapters(new Adapters(adapters.loras(), l, adapters.loraDir(), adapters.embeddingDir()));
    }

    /**
     * The folder {@code <lora:NAME:WEIGHT>} prompt tags are resolved in (NAME.safetensors).
     *
     * @param dir the folder, or null for none (a prompt tag then fails with a clear error)
     * @return new options
     */
    public ModelOptions withLoraDir(Path dir) {
        return withAdapters(new Adapters(adapters.loras(), adapters.embeddings(), dir, adapters.embeddingDir()));
    }

    /**
     * A folder whose every .safetensors file is loaded as an embedding (trigger word = file name).
     *
     * @param dir the folder, or null for none
     * @return new options
     */
    public ModelOptions withEmbeddingDir(Path dir) {
        return withAdapters(new Adapters(adapters.loras(), adapters.embeddings(), adapters.loraDir(), dir));
    }

    /**
     * Options with the default thread count (the record before the threads field).
     *
     * @param model             the model folder or file
     * @param vae               a replacement VAE, or null
     * @param taesd             a TAESD folder or file, or null
     * @param tokenizer         a tokenizer folder, or null
     * @param textEncoder       a replacement text encoder, or null
     * @param config            a diffusers folder describing a single file, or null
     * @param useTaesdForDecode decode final images with TAESD
     * @param device            "cpu", "auto" or "cuda[:N]" (null: "cpu")
     * @param lowMemory         low-memory mode
     */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                        boolean useTaesdForDecode, String device, boolean lowMemory) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, 0);
    }

    /**
     * Options on the CPU without low-memory mode (the record before the device and lowMemory fields).
     *
     * @param model             the model folder or file
     * @param vae               a replacement VAE, or null
     * @param taesd             a TAESD folder or file, or null
     * @param tokenizer         a tokenizer folder, or null
     * @param textEncoder       a replacement text encoder, or null
     * @param config            a diffusers folder describing a single file, or null
     * @param useTaesdForDecode decode final images with TAESD
     */
    public ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config, boolean useTaesdForDecode) {
        this(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, "cpu", false);
    }

    /**
     * Just the model, every other option at its default.
     *
     * @param model a diffusers folder or a single-file checkpoint
     * @return new options
     * @throws NullPointerException when model is null
     */
    public static ModelOptions of(Path model) { return new ModelOptions(model, null, null, null, null, null, false, "cpu", false); }

    /**
     * A replacement VAE.
     *
     * @param p a VAE file or diffusers folder, or null for the model's own
     * @return new options
     */
    public ModelOptions withVae(Path p) { return new ModelOptions(model, p, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /**
     * A TAESD decoder/encoder for previews and fast decoding.
     *
     * @param p a TAESD folder or file, or null for none
     * @return new options
     */
    public ModelOptions withTaesd(Path p) { return new ModelOptions(model, vae, p, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /**
     * A replacement tokenizer.
     *
     * @param p a tokenizer folder (vocab.json, merges.txt), or null for the model's own or the bundled CLIP tokenizer
     * @return new options
     */
    public ModelOptions withTokenizer(Path p) { return new ModelOptions(model, vae, taesd, p, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /**
     * A replacement text encoder.
     *
     * @param p a text encoder file or folder, or null for the model's own
     * @return new options
     */
    public ModelOptions withTextEncoder(Path p) { return new ModelOptions(model, vae, taesd, tokenizer, p, config, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /**
     * Configs describing a single-file checkpoint.
     *
     * @param p a diffusers folder (with unet/, vae/, text_encoder/, scheduler/ configs), or null to infer them
     * @return new options
     */
    public ModelOptions withConfig(Path p) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, p, useTaesdForDecode, device, lowMemory, threads, adapters, prediction); }
    /**
     * Decode final images with TAESD instead of the full VAE (faster, lower quality; needs {@link #withTaesd}).
     *
     * @param on true for TAESD decoding
     * @return new options
     */
    public ModelOptions withTaesdDecode(boolean on) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, on, device, lowMemory, threads, adapters, prediction); }

    /**
     * Where to compute: "cpu", "auto" or "cuda[:N]".
     *
     * @param d the device name (null: "cpu")
     * @return new options
     * @throws IllegalArgumentException any other name
     */
    public ModelOptions withDevice(String d) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, d, lowMemory, threads, adapters, prediction); }

    /**
     * Low-memory mode: the VAE decodes in tiles of {@link ModelComponents#LOW_MEMORY_TILE} latent pixels (blended at
     * the seams, as diffusers' tiled decode; the image then differs slightly from an untiled decode), so no full-size
     * decoder activation exists. Weights are used in place from the mapped files in both modes, and their pages are
     * released as components and U-Net modules finish (see {@link ModelComponents}). The model's files cache no
     * Winograd filters ({@link ModelComponents#LOW_MEMORY_FILTER_CACHE}). With a small heap ({@code -Xmx448m}), SD 1.5
     * at 512 x 512 peaks at 0.69 GB resident; with a large maximum heap G1 lets garbage grow into it.

     *
     * @param on true for low-memory mode
     * @return new options
     */
    public ModelOptions withLowMemory(boolean on) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, on, threads, adapters, prediction); }

    /**
     * Compute threads for this model (0: {@code -Djdiffusion.threads}, else all cores). The count changes speed
     * only: images are bit-identical for any count.
     *
     * @param n the thread count, 1 to {@value Parallel#MAX_THREADS}, or 0 for the default
     * @return new options
     * @throws IllegalArgumentException n outside 0..{@value Parallel#MAX_THREADS}
     */
    public ModelOptions withThreads(int n) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, n, adapters, prediction); }

    /**
     * Overrides what the U-Net predicts, for every sampler: "eps" / "epsilon" or "v" / "v_prediction" (null: the
     * model's own: its scheduler config, else the family default). SD 2.0-v and 2.1 (768 px) single files are
     * v-prediction models whose tensors look like the 512-px epsilon ones.
     *
     * @param p "eps", "epsilon", "v" or "v_prediction"; null for the model's own
     * @return new options
     * @throws IllegalArgumentException any other name
     */
    public ModelOptions withPrediction(String p) {
        return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, useTaesdForDecode, device, lowMemory, threads, adapters,
                predictionType(p));
    }

    /**
     * The scheduler prediction_type for a user's name.
     *
     * @param p "eps", "epsilon", "v" or "v_prediction", or null
     * @return "epsilon" or "v_prediction"; null for null
     * @throws IllegalArgumentException any other name
     */

    public static String predictionType(String p) {
        if (p == null) return null;
        return switch (p) {
            case "eps", "epsilon" -> "epsilon";
            case "v", "v_prediction" -> "v_prediction";
            default -> throw new IllegalArgumentException("unknown prediction \"" + p + "\"; choose eps or v");
        };
    }
}

package dev.jdiffusion.pipeline;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a model's parts come from: the model (diffusers folder or single-file checkpoint) and optional
 * replacements: a VAE (file or folder), a TAESD decoder/encoder (folder or file) for previews and fast decoding,
 * a tokenizer folder (needed for single files), a text encoder (folder or file), and a diffusers folder whose
 * config files describe a single-file checkpoint (when its shapes alone do not tell, e.g. attention head counts).
 *
 * @param useTaesdForDecode decode final images with TAESD instead of the full VAE
 */
public record ModelOptions(Path model, Path vae, Path taesd, Path tokenizer, Path textEncoder, Path config,
                           boolean useTaesdForDecode) {
    public ModelOptions {
        Objects.requireNonNull(model, "model");
    }

    /** Just the model. */
    public static ModelOptions of(Path model) { return new ModelOptions(model, null, null, null, null, null, false); }

    public ModelOptions withVae(Path p) { return new ModelOptions(model, p, taesd, tokenizer, textEncoder, config, useTaesdForDecode); }
    public ModelOptions withTaesd(Path p) { return new ModelOptions(model, vae, p, tokenizer, textEncoder, config, useTaesdForDecode); }
    public ModelOptions withTokenizer(Path p) { return new ModelOptions(model, vae, taesd, p, textEncoder, config, useTaesdForDecode); }
    public ModelOptions withTextEncoder(Path p) { return new ModelOptions(model, vae, taesd, tokenizer, p, config, useTaesdForDecode); }
    /** A diffusers folder (with unet/, vae/, text_encoder/, scheduler/ configs) describing a single-file checkpoint. */
    public ModelOptions withConfig(Path p) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, p, useTaesdForDecode); }
    public ModelOptions withTaesdDecode(boolean on) { return new ModelOptions(model, vae, taesd, tokenizer, textEncoder, config, on); }
}

package dev.jdiffusion.weights;

/**
 * Maps the original (CompVis / single-file) key layout of the CLIP text encoder to diffusers' (transformers')
 * names. Keys arrive with the component prefix ({@code cond_stage_model.transformer.}) already stripped.
 *
 * <p>SD 1.x single files store transformers' {@code CLIPTextModel} state dict under that prefix, so the names are
 * the same ({@code text_model.encoder.layers.0.mlp.fc1.weight}). Checkpoints saved with old transformers versions
 * lack the {@code text_model.} level ({@code embeddings.*}, {@code encoder.*}, {@code final_layer_norm.*}); those
 * get it added. SD 2.x single files keep OpenCLIP's layout under {@code cond_stage_model.model.} (fused
 * {@code in_proj} attention weights), which this mapping does not cover.
 */
public final class ClipKeys {
    private ClipKeys() {}

    /**
     * Maps one key of the original layout.
     *
     * @param originalKey a key with the component prefix already stripped
     * @return the diffusers name, or null when the key is not part of the text model
     */
    public static String toDiffusers(String originalKey) {
        if (originalKey.startsWith("text_model.")) return originalKey;
        if (originalKey.startsWith("embeddings.") || originalKey.startsWith("encoder.") || originalKey.startsWith("final_layer_norm."))
            return "text_model." + originalKey;
        return null;
    }

    /**
     * Reshapes a mapped tensor where the layouts differ; CLIP's tensors are identical in both layouts.
     *
     * @param t a tensor read under an original-layout key
     * @return {@code t} itself
     */
    public static TensorView adapt(TensorView t) {
        return t;
    }
}

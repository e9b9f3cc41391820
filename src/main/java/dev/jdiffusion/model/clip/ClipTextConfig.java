package dev.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.weights.ModelFormatException;

/**
 * The shape and flavour of a CLIP text transformer, as transformers' {@code CLIPTextConfig} names it.
 *
 * <p>Without a config.json (single-file checkpoints) everything but the head count and the activation is
 * read from tensor shapes; heads follow CLIP's rule of 64-wide heads ({@code heads = hidden / 64}: 12 for
 * SD 1.x's ViT-L/14 encoder, 16 for SD 2.x's ViT-H, 20 for SDXL's ViT-bigG), the activation is {@code quick_gelu}
 * (OpenAI CLIP, as every {@code cond_stage_model.transformer.*} checkpoint has it) unless the loader says the
 * weights came in OpenCLIP's layout ({@code gelu}). A hidden size that is not a multiple of 64 (tiny test models)
 * needs a config.
 *
 * @param eosTokenId transformers' {@code eos_token_id}; 2 (the legacy value in SD configs) means "pool at
 *                   the highest id", any other value "pool at the first occurrence of that id"
 */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                             int maxPositions, float layerNormEps, Activation activation, int eosTokenId) {

    /** The MLP activation ({@code hidden_act}). */
    public enum Activation {
        QUICK_GELU, GELU;

        static Activation parse(String s, String where) {
            return switch (s) {
                case "quick_gelu" -> QUICK_GELU;
                case "gelu" -> GELU;
                default -> throw new ModelFormatException(where + ": hidden_act '" + s + "' is not supported (quick_gelu or gelu)");
            };
        }
    }

    public ClipTextConfig {
        if (hiddenSize <= 0 || numHeads <= 0 || hiddenSize % numHeads != 0)
            throw new ModelFormatException("CLIP text config: hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numHeads);
        if (vocabSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || maxPositions <= 0)
            throw new ModelFormatException("CLIP text config: sizes must be positive (vocab " + vocabSize + ", intermediate "
                    + intermediateSize + ", layers " + numLayers + ", positions " + maxPositions + ")");
    }

    public int headDim() { return hiddenSize / numHeads; }

    /** Reads a transformers CLIPTextConfig json; where names the file for error messages. */
    public static ClipTextConfig fromJson(JsonNode c, String where) {
        return new ClipTextConfig(
                intField(c, "vocab_size", where), intField(c, "hidden_size", where), intField(c, "intermediate_size", where),
                intField(c, "num_hidden_layers", where), intField(c, "num_attention_heads", where),
                intField(c, "max_position_embeddings", where),
                (float) c.path("layer_norm_eps").asDouble(1e-5),
                Activation.parse(c.path("hidden_act").asText("quick_gelu"), where),
                dev.jdiffusion.weights.ConfigFields.optionalInt(c, "eos_token_id", 2, where));
    }

    /** A config from tensor shapes alone (see the class comment for the rules), OpenAI CLIP's quick_gelu. */
    public static ClipTextConfig inferred(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int maxPositions, String where) {
        return inferred(vocabSize, hiddenSize, intermediateSize, numLayers, maxPositions, Activation.QUICK_GELU, where);
    }

    /**
     * A config from tensor shapes and the activation the file's layout implies: OpenAI CLIP ({@code transformer.*}
     * names) uses quick_gelu, OpenCLIP ({@code model.*} names: SD 2.x's ViT-H, SDXL's ViT-bigG) the exact erf gelu.
     */
    public static ClipTextConfig inferred(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int maxPositions,
                                          Activation activation, String where) {
        if (hiddenSize % 64 != 0)
            throw new ModelFormatException(where + ": hidden size " + hiddenSize + " is not a multiple of 64, so the attention "
                    + "head count cannot be inferred; pass --config DIR, a diffusers folder of this model whose "
                    + "text_encoder/config.json describes it");
        return new ClipTextConfig(vocabSize, hiddenSize, intermediateSize, numLayers, hiddenSize / 64, maxPositions, 1e-5f,
                activation, 2);
    }

    private static int intField(JsonNode c, String name, String where) {
        return dev.jdiffusion.weights.ConfigFields.requiredInt(c, name, where);
    }
}

package dev.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.kernels.LayerNorm;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's text transformer (transformers' {@code CLIPTextModel}), the prompt encoder of Stable Diffusion:
 * <pre>
 *   x = token_embedding[ids] + position_embedding[0..seq)
 *   x = encoder layer 0 .. N-1 (pre-LN, causal self-attention, MLP)   {@link ClipEncoderLayer}
 *   last_hidden_state = final_layer_norm(x)
 * </pre>
 * Clip skip k takes the output of layer N-k through the final layer norm instead. Weights are read under
 * transformers' names ({@code text_model.encoder.layers.N.self_attn.q_proj.weight}, ...), as a diffusers
 * {@code text_encoder/} folder holds them and {@link dev.jdiffusion.weights.Checkpoint} hands out a single file's
 * {@code cond_stage_model.transformer.*} tensors. Big matrices stay in the mapped file; instances are immutable
 * and thread-safe (each call allocates its own activations).
 */
public final class ClipTextEncoder {
    private static final String P = "text_model.";
    /** Tensors a checkpoint may carry that the text encoder does not use. */
    private static final Set<String> IGNORED = Set.of(P + "embeddings.position_ids", "logit_scale");
    private static final Pattern LAYER = Pattern.compile("^text_model\\.encoder\\.layers\\.(\\d+)\\.");

    private final ClipTextConfig config;
    private final TensorView tokenEmbedding;
    private final float[] positionEmbedding;
    private final List<ClipEncoderLayer> layers;
    private final ClipWeights.Norm finalNorm;
    /** Token-embedding rows appended after the vocabulary (textual inversion), row-major [n, hidden]. */
    private final float[] added;
    /** {@code text_projection.weight} [projection_dim, hidden] (CLIPTextModelWithProjection), or null. */
    private final dev.jdiffusion.kernels.Matrix textProjection;
    /** Told each layer's index once it has run in an encoding (see {@link #onLayerDone}), or null. */
    private volatile java.util.function.IntConsumer layerDone;

    private ClipTextEncoder(ClipTextConfig config, TensorView tokenEmbedding, float[] positionEmbedding,
                            List<ClipEncoderLayer> layers, ClipWeights.Norm finalNorm, float[] added,
                            dev.jdiffusion.kernels.Matrix textProjection) {
        this.added = added;
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.positionEmbedding = positionEmbedding;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.textProjection = textProjection;
    }

    /**
     * Builds the encoder from tensors under transformers' names and the model's config.json (or null: the
     * config is then inferred from shapes, see {@link ClipTextConfig}). Every tensor is checked (presence,
     * shape, dtype, no unknown names) before anything is computed.
     */
    public static ClipTextEncoder load(TensorSource tensors, JsonNode configOrNull) {
        return load(tensors, configOrNull, ClipTextConfig.Activation.QUICK_GELU);
    }

    /**
     * As {@link #load(TensorSource, JsonNode)}; without a config the MLP activation is {@code inferredActivation}
     * (what the file's layout implies: {@code GELU} for an OpenCLIP-named encoder such as SDXL's second one).
     */
    public static ClipTextEncoder load(TensorSource tensors, JsonNode configOrNull, ClipTextConfig.Activation inferredActivation) {
        String where = tensors.description();
        TensorView tok = tensors.get(P + "embeddings.token_embedding.weight");
        TensorView pos = tensors.get(P + "embeddings.position_embedding.weight");
        if (tok.rank() != 2 || pos.rank() != 2)
            throw new ModelFormatException(where + ": embeddings must be 2-D, got " + tok + " and " + pos);
        int layerCount = 0;
        for (String n : tensors.names()) {
            Matcher m = LAYER.matcher(n);
            if (m.find()) layerCount = Math.max(layerCount, Integer.parseInt(m.group(1)) + 1);
        }
        if (layerCount == 0) throw new ModelFormatException(where + ": no text_model.encoder.layers.* tensors");
        int vocab = Math.toIntExact(tok.dim(0)), hidden = Math.toIntExact(tok.dim(1)), positions = Math.toIntExact(pos.dim(0));
        int intermediate = Math.toIntExact(tensors.get(P + "encoder.layers.0.mlp.fc1.weight").dim(0));

        ClipTextConfig cfg;
        if (configOrNull != null) {
            cfg = ClipTextConfig.fromJson(configOrNull, where + " config");
            check(where, "vocab_size", cfg.vocabSize(), vocab, "token_embedding rows");
            check(where, "hidden_size", cfg.hiddenSize(), hidden, "token_embedding columns");
            check(where, "max_position_embeddings", cfg.maxPositions(), positions, "position_embedding rows");
            check(where, "intermediate_size", cfg.intermediateSize(), intermediate, "mlp.fc1 rows");
            check(where, "num_hidden_layers", cfg.numLayers(), layerCount, "layers in the weights");
        } else {
            cfg = ClipTextConfig.inferred(vocab, hidden, intermediate, layerCount, positions, inferredActivation, where);
        }

        Set<String> used = new HashSet<>();
        ClipWeights w = new ClipWeights(tensors, used);
        TensorView tokenEmbedding = w.tensor(P + "embeddings.token_embedding.weight", vocab, hidden);
        float[] positionEmbedding = w.tensor(P + "embeddings.position_embedding.weight", positions, hidden).toFloatArray();
        List<ClipEncoderLayer> layers = new ArrayList<>();
        int d = hidden, f = intermediate;
        for (int i = 0; i < cfg.numLayers(); i++) {
            String l = P + "encoder.layers." + i + ".";
            layers.add(new ClipEncoderLayer(
                    w.norm(l + "layer_norm1", d),
                    w.linear(l + "self_attn.q_proj", d, d), w.linear(l + "self_attn.k_proj", d, d),
                    w.linear(l + "self_attn.v_proj", d, d), w.linear(l + "self_attn.out_proj", d, d),
                    w.norm(l + "layer_norm2", d),
                    w.linear(l + "mlp.fc1", f, d), w.linear(l + "mlp.fc2", d, f)));
        }
        ClipWeights.Norm finalNorm = w.norm(P + "final_layer_norm", d);
        dev.jdiffusion.kernels.Matrix projection = null;
        if (tensors.contains("text_projection.weight")) {
            TensorView pw = tensors.get("text_projection.weight");
            if (pw.rank() != 2 || pw.dim(1) != d)
                throw new ModelFormatException(where + ": text_projection.weight must be [projection_dim, " + d + "], is " + pw);
            if (configOrNull != null && configOrNull.hasNonNull("projection_dim"))
                check(where, "projection_dim", configOrNull.get("projection_dim").asInt(), Math.toIntExact(pw.dim(0)), "text_projection rows");
            projection = dev.jdiffusion.kernels.Matrix.of(w.tensor("text_projection.weight", pw.dim(0), d));
        }

        Set<String> unknown = new TreeSet<>(tensors.names());
        unknown.removeAll(used);
        unknown.removeAll(IGNORED);
        if (!unknown.isEmpty())
            throw new ModelFormatException(where + ": " + unknown.size() + " tensors the CLIP text encoder does not know, e.g. "
                    + unknown.stream().limit(5).toList());
        return new ClipTextEncoder(cfg, tokenEmbedding, positionEmbedding, List.copyOf(layers), finalNorm, new float[0], projection);
    }

    /**
     * The weights (transformers' names and shapes) {@link #load} reads for this config: embeddings, every layer, the
     * final norm, and {@code text_projection.weight [projectionDim, hidden]} when projectionDim > 0
     * (CLIPTextModelWithProjection). The {@code position_ids} buffer some files hold is not a weight and not listed.
     * For synthetic weights.
     */
    public static java.util.Map<String, long[]> tensorShapes(ClipTextConfig c, int projectionDim) {
        java.util.Map<String, long[]> m = new java.util.LinkedHashMap<>();
        long d = c.hiddenSize(), f = c.intermediateSize();
        m.put(P + "embeddings.token_embedding.weight", new long[]{c.vocabSize(), d});
        m.put(P + "embeddings.position_embedding.weight", new long[]{c.maxPositions(), d});
        for (int i = 0; i < c.numLayers(); i++) {
            String l = P + "encoder.layers." + i + ".";
            for (String n : new String[]{"layer_norm1", "layer_norm2"}) {
                m.put(l + n + ".weight", new long[]{d});
                m.put(l + n + ".bias", new long[]{d});
            }
            for (String n : new String[]{"q_proj", "k_proj", "v_proj", "out_proj"}) {
                m.put(l + "self_attn." + n + ".weight", new long[]{d, d});
                m.put(l + "self_attn." + n + ".bias", new long[]{d});
            }
            m.put(l + "mlp.fc1.weight", new long[]{f, d});
            m.put(l + "mlp.fc1.bias", new long[]{f});
            m.put(l + "mlp.fc2.weight", new long[]{d, f});
            m.put(l + "mlp.fc2.bias", new long[]{d});
        }
        m.put(P + "final_layer_norm.weight", new long[]{d});
        m.put(P + "final_layer_norm.bias", new long[]{d});
        if (projectionDim > 0) m.put("text_projection.weight", new long[]{projectionDim, d});
        return m;
    }

    private static void check(String where, String field, int configValue, int shapeValue, String what) {
        if (configValue != shapeValue)
            throw new ModelFormatException(where + ": config " + field + " = " + configValue + " but the weights have "
                    + shapeValue + " (" + what + ")");
    }

    public ClipTextConfig config() { return config; }

    /**
     * Tells listener (null: nobody) the index of each encoder layer once it has run in an encoding, so that a caller
     * can drop that layer's weight pages from memory (they are mapped again from the page cache when next read).
     * Results do not change. Returns this encoder.
     */
    public ClipTextEncoder onLayerDone(java.util.function.IntConsumer listener) {
        this.layerDone = listener;
        return this;
    }

    /** The width of {@link #textEmbeds}: projection_dim with a text projection, else the hidden size. */
    public int pooledDim() { return textProjection != null ? textProjection.rows() : config.hiddenSize(); }

    /** True for a {@code CLIPTextModelWithProjection} (SDXL's second encoder). */
    public boolean hasProjection() { return textProjection != null; }

    /**
     * transformers' {@code text_embeds}: the pooled output {@code [batch, hidden]} through {@code text_projection}
     * (no bias) to {@code [batch, projection_dim]}; the pooled output itself when the model has no projection.
     */
    public Tensor textEmbeds(Tensor pooled) {
        if (textProjection == null) return pooled;
        int b = pooled.dim(0);
        float[] y = new float[b * textProjection.rows()];
        dev.jdiffusion.kernels.Gemm.linear(pooled.data(), 0, b, textProjection, null, y, 0);
        return new Tensor(y, b, textProjection.rows());
    }

    /**
     * What SDXL takes from an encoder: the output of layer N - skip <b>without</b> the final layer norm
     * ({@code hidden_states[-1 - skip]}; skip 1 = the penultimate layer), and, when withPooled, {@link #textEmbeds}
     * of the pooled last_hidden_state (else null; then the layers after the one taken are not computed).
     */
    public Hidden encodeHidden(int[][] ids, int skip, boolean withPooled) {
        if (skip < 0 || skip >= config.numLayers())
            throw new IllegalArgumentException("skip must be in 0.." + (config.numLayers() - 1) + ", got " + skip);
        Run r = new Run(ids);
        int n = config.numLayers(), upTo = n - skip;
        for (int i = 0; i < upTo; i++) r.layer(i);
        Tensor hidden = r.snapshot();
        if (!withPooled) return new Hidden(hidden, null);
        for (int i = upTo; i < n; i++) r.layer(i);
        return new Hidden(hidden, textEmbeds(pooled(r.normed(), ids)));
    }

    /** See {@link #encodeHidden}: {@code hidden} [batch, seq, hidden], {@code textEmbeds} [batch, pooledDim()] or null. */
    public record Hidden(Tensor hidden, Tensor textEmbeds) {}

    /**
     * This encoder with token-embedding rows appended after the vocabulary and those appended before (textual
     * inversion: ids vocabSize, vocabSize + 1, ... in order); shares the weights.
     *
     * @param rows [n, hidden] row-major
     */
    public ClipTextEncoder withAddedEmbeddings(float[] rows) {
        int d = config.hiddenSize();
        if (rows.length % d != 0) throw new IllegalArgumentException("embedding rows of " + rows.length + " values are not rows of " + d);
        float[] all = java.util.Arrays.copyOf(added, added.length + rows.length);
        System.arraycopy(rows, 0, all, added.length, rows.length);
        return new ClipTextEncoder(config, tokenEmbedding, positionEmbedding, layers, finalNorm, all, textProjection).onLayerDone(layerDone);
    }

    /** The appended token-embedding rows, [n, hidden] row-major (a copy). */
    public float[] addedEmbeddings() { return added.clone(); }

    /** Token ids accepted: the vocabulary and the appended rows. */
    public int tokenCount() { return config.vocabSize() + added.length / config.hiddenSize(); }

    /**
     * The prompt embeddings {@code [batch, seq, hidden]}: clipSkip 1 is the last layer through the final layer
     * norm (last_hidden_state), clipSkip 2 the penultimate layer through it, and so on. Layers after the one
     * taken are not computed.
     */
    public Tensor encode(int[][] ids, int clipSkip) {
        if (clipSkip < 1 || clipSkip > config.numLayers())
            throw new IllegalArgumentException("clipSkip must be in 1.." + config.numLayers() + ", got " + clipSkip);
        Run r = new Run(ids);
        for (int i = 0; i < config.numLayers() - (clipSkip - 1); i++) r.layer(i);
        return r.normed();
    }

    /** All outputs at once: last and penultimate (normed) states, pooled output, and optionally every hidden state. */
    public EncoderOutput encodeAll(int[][] ids, boolean keepHiddenStates) {
        Run r = new Run(ids);
        List<Tensor> hidden = new ArrayList<>();
        if (keepHiddenStates) hidden.add(r.snapshot());
        Tensor penultimate = null;
        int n = config.numLayers();
        for (int i = 0; i < n; i++) {
            r.layer(i);
            if (i == n - 2) penultimate = r.normed();
            if (keepHiddenStates) hidden.add(r.snapshot());
        }
        Tensor last = r.normed();
        return new EncoderOutput(last, penultimate, pooled(last, ids), List.copyOf(hidden));
    }

    /**
     * Each prompt's row of lastHiddenState at its EOS token: the highest id when the config's eos_token_id is
     * the legacy 2 (as transformers does for SD's configs), else the first occurrence of eos_token_id.
     */
    public Tensor pooled(Tensor lastHiddenState, int[][] ids) {
        int batch = ids.length, seq = ids[0].length, d = config.hiddenSize();
        float[] out = new float[batch * d];
        for (int b = 0; b < batch; b++) {
            int at = -1;
            if (config.eosTokenId() != 2)
                for (int i = 0; i < seq && at < 0; i++) if (ids[b][i] == config.eosTokenId()) at = i;
            if (at < 0) {
                at = 0;
                for (int i = 1; i < seq; i++) if (ids[b][i] > ids[b][at]) at = i;
            }
            System.arraycopy(lastHiddenState.data(), (b * seq + at) * d, out, b * d, d);
        }
        return new Tensor(out, batch, d);
    }

    /** One forward pass over a batch: the residual stream and its reusable buffers. */
    private final class Run {
        final int batch, seq, rows, d;
        final float[] x;
        final ClipEncoderLayer.Buffers buffers;

        Run(int[][] ids) {
            validate(ids);
            batch = ids.length;
            seq = ids[0].length;
            rows = batch * seq;
            d = config.hiddenSize();
            x = new float[rows * d];
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < seq; i++) {
                    int o = (b * seq + i) * d;
                    int id = ids[b][i];
                    if (id < config.vocabSize()) tokenEmbedding.readFloats((long) id * d, x, o, d);
                    else System.arraycopy(added, (id - config.vocabSize()) * d, x, o, d);
                    for (int j = 0; j < d; j++) x[o + j] += positionEmbedding[i * d + j];
                }
            buffers = new ClipEncoderLayer.Buffers(rows, d, config.intermediateSize());
        }

        void layer(int i) {
            layers.get(i).forward(x, batch, seq, config, buffers);
            java.util.function.IntConsumer done = layerDone;
            if (done != null) done.accept(i);
        }

        Tensor snapshot() { return new Tensor(x.clone(), batch, seq, d); }

        Tensor normed() {
            float[] y = new float[x.length];
            LayerNorm.forward(x, rows, d, finalNorm.weight(), finalNorm.bias(), config.layerNormEps(), y);
            return new Tensor(y, batch, seq, d);
        }
    }

    private void validate(int[][] ids) {
        if (ids == null || ids.length == 0) throw new IllegalArgumentException("no prompts: ids must have at least one row");
        int seq = ids[0].length;
        if (seq == 0 || seq > config.maxPositions())
            throw new IllegalArgumentException("sequence length " + seq + " must be in 1.." + config.maxPositions());
        for (int b = 0; b < ids.length; b++) {
            if (ids[b].length != seq)
                throw new IllegalArgumentException("all prompts must have the same length: row " + b + " has " + ids[b].length + ", row 0 has " + seq);
            for (int i = 0; i < seq; i++)
                if (ids[b][i] < 0 || ids[b][i] >= tokenCount())
                    throw new IllegalArgumentException("token id " + ids[b][i] + " at [" + b + ", " + i + "] is outside the vocabulary (0.." + (tokenCount() - 1) + ")");
        }
    }
}

package dev.jdiffusion.model.clip;

import dev.jdiffusion.tensor.Tensor;

import java.util.List;

/**
 * Everything the CLIP text encoder computes for a batch of prompts.
 *
 * @param lastHiddenState      {@code [batch, seq, hidden]}: the last layer through the final layer norm (clip skip 1)
 * @param penultimateNormed    {@code [batch, seq, hidden]}: the second-to-last layer through the final layer norm
 *                             (clip skip 2); null for a one-layer encoder
 * @param pooledOutput         {@code [batch, hidden]}: lastHiddenState at each prompt's EOS position
 * @param hiddenStates         transformers' {@code hidden_states}: the embeddings, then each layer's output before
 *                             the final norm ({@code numLayers + 1} tensors); empty unless requested
 */
public record EncoderOutput(Tensor lastHiddenState, Tensor penultimateNormed, Tensor pooledOutput, List<Tensor> hiddenStates) {}

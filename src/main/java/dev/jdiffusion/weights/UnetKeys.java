package dev.jdiffusion.weights;

import java.util.Map;

/**
 * Maps the original (CompVis / single-file) key layout of the unet to diffusers' names, as diffusers' conversion
 * scripts do. Keys arrive with the component prefix ({@code model.diffusion_model.}) already stripped.
 * <pre>
 * time_embed.0 / .2                 -> time_embedding.linear_1 / linear_2   (time_embed.cond_proj -> time_embedding.cond_proj)
 * label_emb.0.0 / .0.2              -> add_embedding.linear_1 / linear_2 (SDXL's text_time added conditioning)
 * input_blocks.0.0                  -> conv_in
 * input_blocks.K.0 (resnet)         -> down_blocks.i.resnets.j        K = 1 + i*(L+1) + j, j &lt; L
 * input_blocks.K.1 (transformer)    -> down_blocks.i.attentions.j
 * input_blocks.K.0.op               -> down_blocks.i.downsamplers.0.conv   (j = L)
 * middle_block.0 / .1 / .2          -> mid_block.resnets.0 / attentions.0 / resnets.1
 * output_blocks.K.0 / .1            -> up_blocks.i.resnets.j / attentions.j   K = i*(L+1) + j, j &lt;= L
 * output_blocks.K.1.conv / .2.conv  -> up_blocks.i.upsamplers.0.conv
 * out.0 / out.2                     -> conv_norm_out / conv_out
 * resnet: in_layers.0 norm1, in_layers.2 conv1, emb_layers.1 time_emb_proj, out_layers.0 norm2, out_layers.3 conv2,
 *         skip_connection conv_shortcut; transformer sub-keys are the same in both layouts.
 * </pre>
 * L (layers per block) is 2 in every Stable Diffusion 1.x/2.x/XL checkpoint and in the conversion scripts;
 * {@link #toDiffusers(String, int)} takes another and {@link #layersPerBlock} reads it from a file's keys. A key that does not fit the layout keeps its original name
 * (prefixed {@code original:}) so the U-Net loader reports it as unexpected instead of silently dropping it.
 * No tensor of the unet changes shape between the layouts.
 */
public final class UnetKeys {
    private UnetKeys() {}

    /** Layers per block assumed by {@link #toDiffusers(String)}. */
    public static final int DEFAULT_LAYERS_PER_BLOCK = 2;

    private static final Map<String, String> RESNET = Map.of(
            "in_layers.0", "norm1", "in_layers.2", "conv1", "emb_layers.1", "time_emb_proj",
            "out_layers.0", "norm2", "out_layers.3", "conv2", "skip_connection", "conv_shortcut");

    /**
     * The diffusers name for an original-layout key of a U-Net with {@link #DEFAULT_LAYERS_PER_BLOCK}.
     *
     * @param originalKey the key with the component prefix stripped
     * @return the diffusers name, or {@code "original:" + originalKey} when the key fits no rule
     */
    public static String toDiffusers(String originalKey) {
        return toDiffusers(originalKey, DEFAULT_LAYERS_PER_BLOCK);
    }

    /**
     * The diffusers name for an original-layout key of a U-Net with the given layers per block.
     *
     * @param key the key with the component prefix stripped
     * @param layersPerBlock resnets per down block (see {@link #layersPerBlock})
     * @return the diffusers name, or {@code "original:" + key} when the key fits no rule
     */
    public static String toDiffusers(String key, int layersPerBlock) {
        String m = map(key, layersPerBlock);
        return m != null ? m : "original:" + key;
    }

    private static String map(String key, int L) {
        String[] p = key.split("\\.", 4);
        try {
            switch (p[0]) {
                case "time_embed" -> {
                    String rest = key.substring("time_embed.".length());
                    if (rest.startsWith("0.")) return "time_embedding.linear_1." + rest.substring(2);
                    if (rest.startsWith("2.")) return "time_embedding.linear_2." + rest.substring(2);
                    if (rest.startsWith("cond_proj.")) return "time_embedding." + rest;
                    return null;
                }
                case "label_emb" -> {
                    if (p.length != 4 || !p[1].equals("0")) return null;
                    if (p[2].equals("0")) return "add_embedding.linear_1." + p[3];
                    if (p[2].equals("2")) return "add_embedding.linear_2." + p[3];
                    return null;
                }
                case "out" -> {
                    if (p.length != 3) return null;
                    if (p[1].equals("0")) return "conv_norm_out." + p[2];
                    if (p[1].equals("2")) return "conv_out." + p[2];
                    return null;
                }
                case "input_blocks" -> {
                    if (p.length < 4) return null;
                    int k = Integer.parseInt(p[1]);
                    if (k == 0) return p[2].equals("0") ? "conv_in." + p[3] : null;
                    int i = (k - 1) / (L + 1), j = (k - 1) % (L + 1);
                    String base = "down_blocks." + i;
                    if (j == L) return p[2].equals("0") && p[3].startsWith("op.") ? base + ".downsamplers.0.conv." + p[3].substring(3) : null;
                    if (p[2].equals("0")) return resnet(base + ".resnets." + j, p[3]);
                    if (p[2].equals("1")) return base + ".attentions." + j + "." + p[3];
                    return null;
                }
                case "middle_block" -> {
                    if (p.length < 4) return null;
                    return switch (p[1]) {
                        case "0" -> resnet("mid_block.resnets.0", p[2] + "." + p[3]);
                        case "1" -> "mid_block.attentions.0." + p[2] + "." + p[3];
                        case "2" -> resnet("mid_block.resnets.1", p[2] + "." + p[3]);
                        default -> null;
                    };
                }
                case "output_blocks" -> {
                    if (p.length < 4) return null;
                    int k = Integer.parseInt(p[1]);
                    int i = k / (L + 1), j = k % (L + 1);
                    String base = "up_blocks." + i;
                    if ((p[2].equals("1") || p[2].equals("2")) && p[3].startsWith("conv.") && j == L)
                        return base + ".upsamplers.0.conv." + p[3].substring(5);
                    if (p[2].equals("0")) return resnet(base + ".resnets." + j, p[3]);
                    if (p[2].equals("1")) return base + ".attentions." + j + "." + p[3];
                    return null;
                }
                default -> {
                    return null;
                }
            }
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Layers per block of an original-layout U-Net from its keys (prefix stripped): the first down-sampler sits at
     * {@code input_blocks.(L+1).0.op}; a U-Net with one level has none, and L is then its last input block.
     * {@link #DEFAULT_LAYERS_PER_BLOCK} when the keys say nothing.
     *
     * @param keys the U-Net's original-layout keys, prefix stripped
     * @return the layers per block, at least 1
     */
    public static int layersPerBlock(Iterable<String> keys) {
        int firstOp = Integer.MAX_VALUE, last = 0;
        for (String k : keys) {
            if (!k.startsWith("input_blocks.")) continue;
            String[] p = k.split("\\.", 4);
            if (p.length < 4) continue;
            try {
                int b = Integer.parseInt(p[1]);
                last = Math.max(last, b);
                if (p[2].equals("0") && p[3].startsWith("op.")) firstOp = Math.min(firstOp, b);
            } catch (NumberFormatException e) {
                // not a numbered block: not part of the layout
            }
        }
        if (firstOp != Integer.MAX_VALUE) return Math.max(1, firstOp - 1);
        return last > 0 ? last : DEFAULT_LAYERS_PER_BLOCK;
    }

    private static String resnet(String base, String rest) {
        int dot = rest.lastIndexOf('.');
        if (dot < 0) return null;
        String mod = RESNET.get(rest.substring(0, dot));
        return mod == null ? null : base + "." + mod + rest.substring(dot);
    }

    /**
     * Reshapes a mapped tensor where the layouts differ; the U-Net's tensors have the same shapes in both.
     *
     * @param t a tensor read under an original-layout key
     * @return {@code t} itself
     */
    public static TensorView adapt(TensorView t) {
        return t;
    }
}

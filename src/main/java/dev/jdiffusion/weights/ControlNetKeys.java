package dev.jdiffusion.weights;

import java.util.function.Function;

/**
 * Maps lllyasviel's ControlNet 1.0/1.1 single-file layout ({@code control_model.*}, as diffusers'
 * {@code convert_controlnet_checkpoint} reads it; files without the {@code control_model.} prefix too) to diffusers'
 * {@code ControlNetModel} names:
 * <pre>
 * time_embed / input_blocks / middle_block  -> as the U-Net's ({@link UnetKeys})
 * input_hint_block.0                        -> controlnet_cond_embedding.conv_in
 * input_hint_block.2k (k = 1 .. m)          -> controlnet_cond_embedding.blocks.(k-1)   (the odd indices are SiLUs)
 * input_hint_block.(2m + 2), the last       -> controlnet_cond_embedding.conv_out
 * zero_convs.i.0                            -> controlnet_down_blocks.i
 * middle_block_out.0                        -> controlnet_mid_block
 * </pre>
 * No tensor changes shape. A key that fits nothing keeps its name with an {@code original:} prefix, so the loader
 * reports it as unexpected.
 */
public final class ControlNetKeys {
    private ControlNetKeys() {}

    /** The prefix lllyasviel's files put before every key. */
    public static final String PREFIX = "control_model.";

    /**
     * Whether tensor names are a ControlNet in the original layout (with or without {@link #PREFIX}).
     *
     * @param names a file's tensor names
     * @return true when the first hint-block conv's weight is present under an original name
     */
    public static boolean isOriginalLayout(java.util.Collection<String> names) {
        return names.contains(PREFIX + "input_hint_block.0.weight") || names.contains("input_hint_block.0.weight");
    }

    /**
     * The original-layout file's tensors under diffusers' names.
     *
     * @param file the file's tensors
     * @return a view that does not own {@code file}
     */
    public static TensorSource diffusersView(TensorSource file) {
        return file.mapped(file.description() + " [controlnet, original names]", mapper(file.names()), t -> t);
    }

    /**
     * The name mapping for a file with these names (the last input_hint_block index is the output conv).
     *
     * @param names all tensor names of the file
     * @return a function from an original name (with or without {@link #PREFIX}) to its diffusers name, as
     *     {@link #toDiffusers} gives it
     */
    public static Function<String, String> mapper(java.util.Collection<String> names) {
        int last = -1;
        for (String n : names) {
            String k = n.startsWith(PREFIX) ? n.substring(PREFIX.length()) : n;
            if (!k.startsWith("input_hint_block.")) continue;
            String[] p = k.split("\\.");
            try {
                last = Math.max(last, Integer.parseInt(p[1]));
            } catch (RuntimeException e) {
                // not a numbered hint layer: left to surface as unexpected
            }
        }
        int lastHint = last;
        return n -> toDiffusers(n.startsWith(PREFIX) ? n.substring(PREFIX.length()) : n, lastHint);
    }

    /**
     * The diffusers name for an original key.
     *
     * @param key the key with {@link #PREFIX} stripped
     * @param lastHint the highest input_hint_block index in the file (the output conv)
     * @return the diffusers name, or {@code "original:" + key} when the key fits no rule
     */
    public static String toDiffusers(String key, int lastHint) {
        String[] p = key.split("\\.", 4);
        try {
            switch (p[0]) {
                case "input_hint_block" -> {
                    if (p.length != 3) break;
                    int k = Integer.parseInt(p[1]);
                    if (k % 2 != 0) break;
                    String e = "controlnet_cond_embedding.";
                    if (k == 0) return e + "conv_in." + p[2];
                    if (k == lastHint) return e + "conv_out." + p[2];
                    return e + "blocks." + (k / 2 - 1) + "." + p[2];
                }
                case "zero_convs" -> {
                    if (p.length != 4 || !p[2].equals("0")) break;
                    return "controlnet_down_blocks." + Integer.parseInt(p[1]) + "." + p[3];
                }
                case "middle_block_out" -> {
                    if (p.length != 3 || !p[1].equals("0")) break;
                    return "controlnet_mid_block." + p[2];
                }
                default -> {
                    return UnetKeys.toDiffusers(key);
                }
            }
        } catch (NumberFormatException e) {
            // falls through to "original:"
        }
        return "original:" + key;
    }
}

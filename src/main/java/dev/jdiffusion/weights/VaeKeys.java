package dev.jdiffusion.weights;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Maps the original (CompVis / single-file) key layout of the VAE ({@code AutoencoderKL}) to diffusers' names,
 * as diffusers' conversion scripts do. Keys arrive with the component prefix ({@code first_stage_model.}) already
 * stripped; standalone VAE files in the original layout use the same keys without any prefix.
 *
 * <pre>
 *   encoder.down.I.block.J.*          -> encoder.down_blocks.I.resnets.J.*   (nin_shortcut -> conv_shortcut)
 *   encoder.down.I.downsample.conv.*  -> encoder.down_blocks.I.downsamplers.0.conv.*
 *   decoder.up.I.block.J.*            -> decoder.up_blocks.(N-1-I).resnets.J.*   (N up blocks, 4 for SD)
 *   decoder.up.I.upsample.conv.*      -> decoder.up_blocks.(N-1-I).upsamplers.0.conv.*
 *   *.mid.block_1 / block_2           -> *.mid_block.resnets.0 / 1
 *   *.mid.attn_1.norm / q / k / v / proj_out -> *.mid_block.attentions.0.group_norm / to_q / to_k / to_v / to_out.0
 *   *.norm_out                        -> *.conv_norm_out
 *   conv_in, conv_out, quant_conv, post_quant_conv: unchanged
 * </pre>
 * The attention q/k/v/proj_out weights are 1x1 convolutions {@code [c, c, 1, 1]} in the original layout and
 * linear {@code [c, c]} in diffusers': {@link #adapt} reshapes them (and their biases, which diffusers' converter
 * writes as {@code [c, 1, 1]}; original checkpoints have {@code [c]}).
 */
public final class VaeKeys {
    private VaeKeys() {}

    /** Up blocks of every Stable Diffusion VAE; the single-file converters hard-code it. */
    public static final int SD_UP_BLOCKS = 4;

    private static final Pattern DOWN = Pattern.compile("encoder\\.down\\.(\\d+)\\.(block\\.(\\d+)|downsample)\\.(.+)");
    private static final Pattern UP = Pattern.compile("decoder\\.up\\.(\\d+)\\.(block\\.(\\d+)|upsample)\\.(.+)");
    private static final Pattern MID = Pattern.compile("(encoder|decoder)\\.mid\\.(block_1|block_2|attn_1)\\.(.+)");
    private static final Pattern PLAIN = Pattern.compile("(encoder|decoder)\\.(conv_in|conv_out|norm_out)\\.(weight|bias)");
    private static final Pattern QUANT = Pattern.compile("(quant_conv|post_quant_conv)\\.(weight|bias)");
    private static final Pattern ATTN_LINEAR = Pattern.compile(".*mid_block\\.attentions\\.\\d+\\.(to_q|to_k|to_v|to_out\\.0)\\.(weight|bias)");

    /**
     * The diffusers name for an original-layout key of a VAE with Stable Diffusion's 4 up blocks.
     *
     * @param originalKey the key with the component prefix stripped
     * @return the diffusers name, or null when the key is not part of the model
     */
    public static String toDiffusers(String originalKey) {
        return toDiffusers(originalKey, SD_UP_BLOCKS);
    }

    /**
     * The diffusers name for an original-layout key of a VAE with upBlocks decoder blocks (the original layout counts
     * them from the highest resolution, diffusers' from the lowest), or null when the key is not part of the model
     * (for example {@code loss.*} or EMA copies).
     *
     * @param k the key with the component prefix stripped
     * @param upBlocks the number of decoder up blocks (see {@link #countUpBlocks})
     * @return the diffusers name, or null when the key is not part of the model
     */
    public static String toDiffusers(String k, int upBlocks) {
        Matcher m = QUANT.matcher(k);
        if (m.matches()) return k;
        m = PLAIN.matcher(k);
        if (m.matches()) return m.group(1) + "." + (m.group(2).equals("norm_out") ? "conv_norm_out" : m.group(2)) + "." + m.group(3);
        m = DOWN.matcher(k);
        if (m.matches()) {
            String rest = m.group(4);
            if (m.group(3) != null) {
                String r = resnetParam(rest);
                return r == null ? null : "encoder.down_blocks." + m.group(1) + ".resnets." + m.group(3) + "." + r;
            }
            return convParam(rest) ? "encoder.down_blocks." + m.group(1) + ".downsamplers.0." + rest : null;
        }
        m = UP.matcher(k);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            if (i >= upBlocks) return null;
            int d = upBlocks - 1 - i;
            String rest = m.group(4);
            if (m.group(3) != null) {
                String r = resnetParam(rest);
                return r == null ? null : "decoder.up_blocks." + d + ".resnets." + m.group(3) + "." + r;
            }
            return convParam(rest) ? "decoder.up_blocks." + d + ".upsamplers.0." + rest : null;
        }
        m = MID.matcher(k);
        if (m.matches()) {
            String base = m.group(1) + ".mid_block.";
            String rest = m.group(3);
            switch (m.group(2)) {
                case "block_1", "block_2" -> {
                    String r = resnetParam(rest);
                    return r == null ? null : base + "resnets." + (m.group(2).equals("block_1") ? 0 : 1) + "." + r;
                }
                default -> {
                    int dot = rest.indexOf('.');
                    if (dot < 0) return null;
                    String layer = rest.substring(0, dot), p = rest.substring(dot + 1);
                    if (!p.equals("weight") && !p.equals("bias")) return null;
                    String d = switch (layer) {
                        case "norm" -> "group_norm";
                        case "q" -> "to_q";
                        case "k" -> "to_k";
                        case "v" -> "to_v";
                        case "proj_out" -> "to_out.0";
                        default -> null;
                    };
                    return d == null ? null : base + "attentions.0." + d + "." + p;
                }
            }
        }
        return null;
    }

    /** Resnet parameter names: norm1/conv1/norm2/conv2 unchanged, nin_shortcut -> conv_shortcut. */
    private static String resnetParam(String rest) {
        int dot = rest.indexOf('.');
        if (dot < 0) return null;
        String layer = rest.substring(0, dot), p = rest.substring(dot + 1);
        if (!p.equals("weight") && !p.equals("bias")) return null;
        return switch (layer) {
            case "norm1", "conv1", "norm2", "conv2" -> rest;
            case "nin_shortcut" -> "conv_shortcut." + p;
            default -> null;
        };
    }

    private static boolean convParam(String rest) { return rest.equals("conv.weight") || rest.equals("conv.bias"); }

    /**
     * Whether a diffusers-named tensor may be stored with extra 1x1 dimensions in the original layout.
     *
     * @param diffusersKey a diffusers name
     * @return true for the weights and biases of the mid block's attention projections (q, k, v, out)
     */
    public static boolean isReshaped(String diffusersKey) {
        return ATTN_LINEAR.matcher(diffusersKey).matches();
    }

    /**
     * Reshapes the attention projections from 1x1 conv {@code [c, c, 1, 1]} to linear {@code [c, c]} (biases
     * {@code [c, 1, 1]} to {@code [c]}); identity otherwise. The tensor's name must already be the diffusers one.
     *
     * @param t a tensor under its diffusers name
     * @return a reshaped view of the same bytes, or {@code t} itself
     */
    public static TensorView adapt(TensorView t) {
        if (!isReshaped(t.name())) return t;
        if (t.rank() == 4 && t.dim(2) == 1 && t.dim(3) == 1) return t.reshaped(t.dim(0), t.dim(1));
        if (t.rank() == 3 && t.dim(1) == 1 && t.dim(2) == 1) return t.reshaped(t.dim(0));
        return t;
    }

    /**
     * Number of decoder up blocks in an original-layout key set ({@code decoder.up.I.*}).
     *
     * @param originalKeys keys with the component prefix stripped
     * @return one more than the highest up-block index; 0 when there are none
     */
    public static int countUpBlocks(Iterable<String> originalKeys) {
        int n = 0;
        for (String k : originalKeys) {
            Matcher m = UP.matcher(k);
            if (m.matches()) n = Math.max(n, Integer.parseInt(m.group(1)) + 1);
        }
        return n;
    }

    /**
     * A standalone VAE file (or any source) in the original layout, keys optionally under {@code prefix}, presented
     * under diffusers' names, with the attention weights reshaped. The up-block count is read from the keys.
     *
     * @param original the source in the original layout
     * @param prefix the VAE's key prefix in the source ({@code ""} for a standalone VAE file)
     * @return a view that does not own {@code original}
     */
    public static TensorSource diffusersView(TensorSource original, String prefix) {
        java.util.List<String> stripped = original.names().stream().filter(n -> n.startsWith(prefix))
                .map(n -> n.substring(prefix.length())).toList();
        int ups = countUpBlocks(stripped);
        int n = ups == 0 ? SD_UP_BLOCKS : ups;
        return original.mapped(original.description() + (prefix.isEmpty() ? "" : " [" + prefix + "*]"),
                k -> k.startsWith(prefix) ? toDiffusers(k.substring(prefix.length()), n) : null, VaeKeys::adapt);
    }
}

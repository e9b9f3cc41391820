package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The subset of diffusers' {@code UNet2DConditionModel} configuration (0.25.1) this engine implements, resolved to
 * per-level values. Lists are per down level (index 0 = highest resolution); up levels use them reversed, as diffusers does.
 *
 * @param inChannels          latent channels in
 * @param outChannels         channels out (noise / v prediction)
 * @param sampleSize          default latent side (pipeline default size = sampleSize * vae scale)
 * @param blockOutChannels    channels per level
 * @param downBlockTypes      CrossAttnDownBlock2D or DownBlock2D per level
 * @param upBlockTypes        CrossAttnUpBlock2D or UpBlock2D per up level (index 0 = lowest resolution)
 * @param midBlock            whether a mid block is present
 * @param midAttention        the mid block is a UNetMidBlock2DCrossAttn (resnet, transformer, resnet); false for
 *                            diffusers' {@code UNetMidBlock2D} of a UNet2DConditionModel (one resnet, as SSD-1B and
 *                            Segmind Vega have)
 * @param midTransformerLayers transformer blocks of the mid block's attention (diffusers: the first entry of the
 *                            last level's {@code transformer_layers_per_block})
 * @param layersPerBlock      resnets per down level (up levels have one more)
 * @param transformerLayers   transformer blocks per attention: [down level][layer] (diffusers'
 *                            {@code transformer_layers_per_block}, a number per level or, as SSD-1B and Vega
 *                            have, a list per level)
 * @param upTransformerLayers transformer blocks per attention: [up level][layer] (the down levels' reversed, or
 *                            {@code reverse_transformer_layers_per_block}, a list of lists)
 * @param attentionHeads      heads per down level (diffusers 0.25.1 reads {@code attention_head_dim} as the head count)
 * @param crossAttentionDim   text embedding width
 * @param normNumGroups       GroupNorm groups
 * @param normEps             resnet GroupNorm epsilon
 * @param useLinearProjection Transformer2D proj_in/proj_out as linear (SD 2) instead of 1x1 conv (SD 1)
 * @param upcastAttention     recorded only: attention is computed in float32 anyway
 * @param flipSinToCos        timestep embedding order (cos, sin) when true
 * @param freqShift           timestep embedding frequency shift
 * @param timeCondProjDim     LCM guidance-embedding width (0 if none)
 * @param timeEmbedDim        time embedding width
 * @param convInKernel        conv_in kernel size
 * @param convOutKernel       conv_out kernel size
 * @param downsamplePadding   Downsample2D padding (0 means diffusers' asymmetric (0,1,0,1) pad)
 * @param midBlockScaleFactor mid-block resnet output scale factor
 * @param centerInputSample   whether the sample is mapped x -> 2x - 1 first
 * @param additionTimeEmbedDim SDXL's {@code addition_embed_type: text_time}: width of each time id's sinusoidal
 *                            embedding ({@code addition_time_embed_dim}); 0 when the U-Net has no added conditioning
 * @param addEmbedInputDim    {@code projection_class_embeddings_input_dim}: text_embeds width + time ids x
 *                            additionTimeEmbedDim (the input of {@code add_embedding}); 0 when none
 */
public record UNetConfig(int inChannels, int outChannels, int sampleSize, int[] blockOutChannels,
                         List<String> downBlockTypes, List<String> upBlockTypes, boolean midBlock, boolean midAttention,
                         int midTransformerLayers, int[] layersPerBlock, int[][] transformerLayers, int[][] upTransformerLayers,
                         int[] attentionHeads,
                         int crossAttentionDim, int normNumGroups, float normEps, boolean useLinearProjection,
                         boolean upcastAttention, boolean flipSinToCos, float freqShift, int timeCondProjDim,
                         int timeEmbedDim, int convInKernel, int convOutKernel, int downsamplePadding,
                         float midBlockScaleFactor, boolean centerInputSample, int additionTimeEmbedDim,
                         int addEmbedInputDim) {

    public static final String CROSS_DOWN = "CrossAttnDownBlock2D", DOWN = "DownBlock2D",
            CROSS_UP = "CrossAttnUpBlock2D", UP = "UpBlock2D", MID = "UNetMidBlock2DCrossAttn", MID_RESNET = "UNetMidBlock2D";

    /** Number of resolution levels. */
    public int levels() { return blockOutChannels.length; }

    /** Whether down level i has attention. */
    public boolean downHasAttention(int i) { return downBlockTypes.get(i).equals(CROSS_DOWN); }

    /** Whether up level i (0 = lowest resolution) has attention. */
    public boolean upHasAttention(int i) { return upBlockTypes.get(i).equals(CROSS_UP); }

    /** Channels of the time-step projection (block_out_channels[0]). */
    public int timeProjDim() { return blockOutChannels[0]; }

    /** True for SDXL-style U-Nets: text_embeds and time_ids added to the time embedding ({@code text_time}). */
    public boolean hasAddedConditioning() { return additionTimeEmbedDim > 0; }

    /** Down-sampling factor of the whole model (2^(levels-1)). */
    public int downFactor() { return 1 << (levels() - 1); }

    /** The config from config.json when there is one, else inferred from the tensor shapes ({@link #infer}). */
    public static UNetConfig resolve(JsonNode configOrNull, TensorSource t) {
        return configOrNull != null ? fromJson(configOrNull) : infer(t);
    }

    /** Parses a diffusers {@code unet/config.json}; rejects features this engine does not implement. */
    public static UNetConfig fromJson(JsonNode c) {
        String cls = c.path("_class_name").asText("UNet2DConditionModel");
        if (!cls.equals("UNet2DConditionModel")) bad("_class_name " + cls + " (only UNet2DConditionModel is supported)");
        int[] boc = ints(c, "block_out_channels", -1, new int[]{320, 640, 1280, 1280});
        int n = boc.length;
        if (n < 1) bad("block_out_channels is empty");
        List<String> down = strings(c, "down_block_types", List.of(CROSS_DOWN, CROSS_DOWN, CROSS_DOWN, DOWN));
        List<String> up = strings(c, "up_block_types", List.of(UP, CROSS_UP, CROSS_UP, CROSS_UP));
        if (down.size() != n || up.size() != n)
            bad("down_block_types (" + down.size() + ") and up_block_types (" + up.size() + ") must have one entry per block_out_channels (" + n + ")");
        for (String t : down) if (!t.equals(CROSS_DOWN) && !t.equals(DOWN)) bad("down block type " + t + " is not supported (only " + CROSS_DOWN + ", " + DOWN + ")");
        for (String t : up) if (!t.equals(CROSS_UP) && !t.equals(UP)) bad("up block type " + t + " is not supported (only " + CROSS_UP + ", " + UP + ")");
        String midType = c.hasNonNull("mid_block_type") || !c.has("mid_block_type") ? c.path("mid_block_type").asText(MID) : null;
        if (midType != null && !midType.equals(MID) && !midType.equals(MID_RESNET))
            bad("mid_block_type " + midType + " is not supported (only " + MID + ", " + MID_RESNET + " or null)");
        if (c.hasNonNull("num_attention_heads"))
            bad("num_attention_heads is set; diffusers 0.25.1 rejects it for UNet2DConditionModel (use attention_head_dim)");
        int[] heads = ints(c, "attention_head_dim", n, new int[]{8});
        int[] lpb = ints(c, "layers_per_block", n, new int[]{2});
        for (int i = 0; i < n; i++) if (lpb[i] < 1) bad("layers_per_block must be >= 1 (block " + i + ")");
        int[] upLayers = new int[n];
        for (int i = 0; i < n; i++) upLayers[i] = lpb[n - 1 - i] + 1;
        JsonNode tlNode = c.get("transformer_layers_per_block");
        int[][] tl = depths(tlNode, "transformer_layers_per_block", lpb);
        int[][] upTl;
        if (c.hasNonNull("reverse_transformer_layers_per_block")) {
            upTl = depths(c.get("reverse_transformer_layers_per_block"), "reverse_transformer_layers_per_block", upLayers);
        } else {
            if (tlNode != null && tlNode.isArray()) for (JsonNode v : tlNode)
                if (v.isArray()) bad("a transformer_layers_per_block with a list per block needs reverse_transformer_layers_per_block "
                        + "(the up blocks' depths), as diffusers requires");
            upTl = new int[n][];
            for (int i = 0; i < n; i++) {
                upTl[i] = new int[upLayers[i]];
                Arrays.fill(upTl[i], tl[n - 1 - i][0]);
            }
        }
        for (int i = 0; i < n; i++) {
            if (boc[i] <= 0 || heads[i] <= 0) bad("non-positive sizes in block " + i);
            if ((down.get(i).equals(CROSS_DOWN) || up.get(n - 1 - i).equals(CROSS_UP) || (i == n - 1 && MID.equals(midType))) && boc[i] % heads[i] != 0)
                bad("block_out_channels[" + i + "]=" + boc[i] + " not divisible by attention heads " + heads[i]);
        }
        int[] cad = ints(c, "cross_attention_dim", n, new int[]{1280});
        for (int v : cad) if (v != cad[0]) bad("per-block cross_attention_dim lists with different values are not supported");
        requireNullOrFalse(c, "only_cross_attention");
        requireNullOrFalse(c, "dual_cross_attention");
        requireNullOrFalse(c, "mid_block_only_cross_attention");
        requireNullOrFalse(c, "class_embeddings_concat");
        requireNull(c, "class_embed_type");
        requireNull(c, "num_class_embeds");
        int addTime = 0, addIn = 0;
        if (c.hasNonNull("addition_embed_type")) {
            requireValue(c, "addition_embed_type", "text_time");
            addTime = num(c, "addition_time_embed_dim", 0);
            addIn = num(c, "projection_class_embeddings_input_dim", 0);
            if (addTime <= 0 || addIn <= 0)
                bad("addition_embed_type text_time needs positive addition_time_embed_dim and projection_class_embeddings_input_dim");
        }
        requireNull(c, "encoder_hid_dim");
        requireNull(c, "encoder_hid_dim_type");
        requireNull(c, "timestep_post_act");
        requireNull(c, "time_embedding_act_fn");
        requireValue(c, "act_fn", "silu");
        requireValue(c, "time_embedding_type", "positional");
        requireValue(c, "resnet_time_scale_shift", "default");
        requireValue(c, "attention_type", "default");
        if (c.has("resnet_skip_time_act") && c.get("resnet_skip_time_act").asBoolean(false)) bad("resnet_skip_time_act=true is not supported");
        if (c.hasNonNull("resnet_out_scale_factor") && c.get("resnet_out_scale_factor").asDouble() != 1.0) bad("resnet_out_scale_factor != 1 is not supported");
        if (c.hasNonNull("cross_attention_norm")) bad("cross_attention_norm is not supported");
        int convIn = num(c, "conv_in_kernel", 3), convOut = num(c, "conv_out_kernel", 3);
        if (convIn % 2 == 0 || convOut % 2 == 0) bad("even conv_in_kernel/conv_out_kernel are not supported");
        int tcp = num(c, "time_cond_proj_dim", 0);
        int ted = num(c, "time_embedding_dim", boc[0] * 4);
        int groups = num(c, "norm_num_groups", 32);
        if (c.has("norm_num_groups") && c.get("norm_num_groups").isNull()) bad("norm_num_groups null is not supported");
        return new UNetConfig(num(c, "in_channels", 4), num(c, "out_channels", 4), num(c, "sample_size", 64),
                boc, List.copyOf(down), List.copyOf(up), midType != null, MID.equals(midType), tl[n - 1][0], lpb, tl, upTl, heads, cad[0], groups,
                (float) c.path("norm_eps").asDouble(1e-5), c.path("use_linear_projection").asBoolean(false),
                c.path("upcast_attention").asBoolean(false), c.path("flip_sin_to_cos").asBoolean(true),
                (float) c.path("freq_shift").asDouble(0), tcp, ted, convIn, convOut, num(c, "downsample_padding", 1),
                (float) c.path("mid_block_scale_factor").asDouble(1), c.path("center_input_sample").asBoolean(false), addTime, addIn).validated();
    }

    /**
     * Infers the configuration of a single-file checkpoint from its tensors (diffusers names). Channels, levels,
     * block types, layer counts, cross_attention_dim, use_linear_projection and time_cond_proj_dim come from the shapes.
     * What shapes cannot tell follows Stable Diffusion: 32 norm groups (or the largest divisor of 32 that divides every
     * level's channels), eps 1e-5, flip_sin_to_cos, freq_shift 0,
     * sample size 64; heads: SD 2.x (cross_attention_dim 1024) and SDXL (an {@code add_embedding}) use head dim 64
     * (heads = channels / 64), anything else follows SD 1.x (8 heads at every level; fewer where channels are not a
     * multiple of 8). SDXL's {@code addition_time_embed_dim} is 256 (every SDXL checkpoint: base, refiner, distilled);
     * the add_embedding input width comes from its shape.
     */
    public static UNetConfig infer(TensorSource t) {
        TensorView convIn = t.get("conv_in.weight");
        if (convIn.rank() != 4) bad(t.description() + ": conv_in.weight must be 4-D, is " + convIn);
        int n = 0;
        while (t.contains("down_blocks." + n + ".resnets.0.conv1.weight")) n++;
        if (n == 0) bad(t.description() + ": no down_blocks.0.resnets.0.conv1.weight; not a UNet2DConditionModel");
        int[] boc = new int[n], lpb = new int[n], heads = new int[n];
        int[][] tl = new int[n][], upTl = new int[n][];
        List<String> down = new ArrayList<>(), up = new ArrayList<>();
        int cross = -1;
        boolean linear = false;
        for (int i = 0; i < n; i++) {
            boc[i] = (int) t.get("down_blocks." + i + ".resnets.0.conv1.weight").dim(0);
            int l = 0;
            while (t.contains("down_blocks." + i + ".resnets." + l + ".conv1.weight")) l++;
            lpb[i] = l;
            boolean att = t.contains("down_blocks." + i + ".attentions.0.norm.weight");
            down.add(att ? CROSS_DOWN : DOWN);
            tl[i] = new int[l];
            for (int j = 0; j < l; j++) tl[i][j] = att ? countBlocks(t, "down_blocks." + i + ".attentions." + j + ".") : 1;
            boolean uatt = t.contains("up_blocks." + i + ".attentions.0.norm.weight");
            up.add(uatt ? CROSS_UP : UP);
        }
        for (int i = 0; i < n; i++) {
            // up level i has one resnet more than its down level; depths per attention, each counted
            upTl[i] = new int[lpb[n - 1 - i] + 1];
            for (int j = 0; j < upTl[i].length; j++)
                upTl[i][j] = up.get(i).equals(CROSS_UP) ? countBlocks(t, "up_blocks." + i + ".attentions." + j + ".") : tl[n - 1 - i][0];
        }
        for (String name : t.names())
            if (name.endsWith("attn2.to_k.weight")) {
                cross = (int) t.get(name).dim(1);
                break;
            }
        for (String name : t.names())
            if (name.endsWith(".proj_in.weight")) {
                linear = t.get(name).rank() == 2;
                break;
            }
        if (cross < 0) cross = 768;
        int addIn = t.contains("add_embedding.linear_1.weight") ? (int) t.get("add_embedding.linear_1.weight").dim(1) : 0;
        int addTime = addIn > 0 ? SDXL_ADDITION_TIME_EMBED_DIM : 0;
        for (int i = 0; i < n; i++) heads[i] = (cross == 1024 || addIn > 0) && boc[i] % 64 == 0 ? boc[i] / 64 : gcd(8, boc[i]);
        boolean mid = t.contains("mid_block.resnets.0.conv1.weight");
        boolean midAtt = t.contains("mid_block.attentions.0.norm.weight");
        int midTl = midAtt ? countBlocks(t, "mid_block.attentions.0.") : tl[n - 1][0];
        int tcp = t.contains("time_embedding.cond_proj.weight") ? (int) t.get("time_embedding.cond_proj.weight").dim(1) : 0;
        int ted = (int) t.get("time_embedding.linear_1.weight").dim(0);
        TensorView convOut = t.get("conv_out.weight");
        int dsPad = 1;
        int groups = 32; // Stable Diffusion's; smaller only when some level's channels are not a multiple of 32
        for (int ch : boc) groups = gcd(groups, ch);
        return new UNetConfig((int) convIn.dim(1), (int) convOut.dim(0), addIn > 0 ? 128 : 64, boc, List.copyOf(down), List.copyOf(up), mid,
                mid && midAtt, midTl, lpb, tl, upTl, heads, cross, groups, 1e-5f, linear, false, true, 0f, tcp, ted, (int) convIn.dim(2),
                (int) convOut.dim(2), dsPad, 1f, false, addTime, addIn).validated();
    }

    /** SDXL's addition_time_embed_dim, the same in every released SDXL U-Net. */
    public static final int SDXL_ADDITION_TIME_EMBED_DIM = 256;

    private static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }

    private static int countBlocks(TensorSource t, String prefix) {
        int k = 0;
        while (t.contains(prefix + "transformer_blocks." + k + ".norm1.weight")) k++;
        return Math.max(1, k);
    }

    private UNetConfig validated() {
        int n = levels();
        if (layersPerBlock.length != n || transformerLayers.length != n || upTransformerLayers.length != n || attentionHeads.length != n)
            bad("per-level lists must all have " + n + " entries");
        for (int i = 0; i < n; i++) {
            if (transformerLayers[i].length != layersPerBlock[i] || upTransformerLayers[i].length != layersPerBlock[n - 1 - i] + 1)
                bad("transformer depths per layer do not fit layers_per_block at level " + i);
            for (int d : transformerLayers[i]) if (d < 1) bad("transformer_layers_per_block must be >= 1 (block " + i + ")");
            for (int d : upTransformerLayers[i]) if (d < 1) bad("reverse_transformer_layers_per_block must be >= 1 (up block " + i + ")");
        }
        if (midTransformerLayers < 1) bad("the mid block's transformer depth must be >= 1");
        for (int ch : blockOutChannels) if (ch % normNumGroups != 0) bad("block_out_channels " + ch + " not divisible by norm_num_groups " + normNumGroups);
        if (inChannels <= 0 || outChannels <= 0 || crossAttentionDim <= 0 || timeEmbedDim <= 0) bad("non-positive channel counts");
        return this;
    }

    /**
     * Transformer depths [block][layer] from a number (every block and layer), or a list with per block a number
     * (every layer) or a list of one entry per layer (layers[block] of them). Default 1.
     */
    private static int[][] depths(JsonNode v, String key, int[] layers) {
        int n = layers.length;
        int[][] r = new int[n][];
        if (v != null && !v.isNull() && !v.isNumber() && !v.isArray())
            throw new ModelFormatException("unet config: " + key + " must be a number or a list, is " + v);
        if (v != null && v.isArray() && v.size() != n && !(v.size() == 1 && v.get(0).isNumber()))
            bad(key + " has " + v.size() + " entries, expected " + n + " (one per block)");
        for (int i = 0; i < n; i++) {
            JsonNode e = v == null || v.isNull() ? null : v.isArray() ? v.get(v.size() == 1 ? 0 : i) : v;
            r[i] = new int[layers[i]];
            if (e != null && e.isArray()) {
                if (e.size() != layers[i]) bad(key + "[" + i + "] has " + e.size() + " entries, expected " + layers[i] + " (one per layer of the block)");
                for (int j = 0; j < layers[i]; j++) r[i][j] = dev.jdiffusion.weights.ConfigFields.toInt(e.get(j), key + "[" + i + "][" + j + "]", "unet config");
            } else {
                Arrays.fill(r[i], e == null ? 1 : dev.jdiffusion.weights.ConfigFields.toInt(e, key + "[" + i + "]", "unet config"));
            }
        }
        return r;
    }

    /** An optional integer field of the config (strict: see {@link dev.jdiffusion.weights.ConfigFields}). */
    private static int num(JsonNode c, String key, int dflt) {
        return dev.jdiffusion.weights.ConfigFields.optionalInt(c, key, dflt, "unet config");
    }

    private static int[] ints(JsonNode c, String key, int n, int[] dflt) {
        JsonNode v = c.get(key);
        int[] r;
        if (v == null || v.isNull()) {
            if (dflt == null) bad(key + " is missing");
            r = dflt;
        } else if (v.isArray()) {
            r = new int[v.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = dev.jdiffusion.weights.ConfigFields.toInt(v.get(i), key + "[" + i + "]", "unet config");
            }
        } else if (v.isNumber()) {
            r = new int[]{dev.jdiffusion.weights.ConfigFields.toInt(v, key, "unet config")};
        } else {
            throw new ModelFormatException("unet config: " + key + " must be a number or a list, is " + v);
        }
        if (n < 0) return r.clone();
        if (r.length == 1) {
            int[] f = new int[n];
            Arrays.fill(f, r[0]);
            return f;
        }
        if (r.length != n) bad(key + " has " + r.length + " entries, expected " + n + " (one per block)");
        return r.clone();
    }

    private static List<String> strings(JsonNode c, String key, List<String> dflt) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isArray()) bad(key + " must be a list");
        List<String> r = new ArrayList<>();
        v.forEach(e -> r.add(e.asText()));
        return r;
    }

    private static void requireNullOrFalse(JsonNode c, String key) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return;
        if (v.isBoolean() && !v.asBoolean()) return;
        if (v.isArray()) {
            for (JsonNode e : v) if (e.asBoolean(false)) bad(key + "=true is not supported");
            return;
        }
        bad(key + "=" + v + " is not supported");
    }

    private static void requireNull(JsonNode c, String key) {
        if (c.hasNonNull(key)) bad(key + "=" + c.get(key) + " is not supported");
    }

    private static void requireValue(JsonNode c, String key, String ok) {
        if (c.hasNonNull(key) && !c.get(key).asText().equals(ok)) bad(key + "=" + c.get(key) + " is not supported (only " + ok + ")");
    }

    private static void bad(String msg) { throw new ModelFormatException("unet config: " + msg); }

    @Override public String toString() {
        return "UNetConfig[in=" + inChannels + ", out=" + outChannels + ", blocks=" + Arrays.toString(blockOutChannels)
                + ", down=" + downBlockTypes + ", up=" + upBlockTypes + ", mid=" + midBlock + ", layers=" + Arrays.toString(layersPerBlock)
                + ", transformerLayers=" + Arrays.deepToString(transformerLayers) + ", upTransformerLayers=" + Arrays.deepToString(upTransformerLayers)
                + (midBlock && !midAttention ? ", mid=" + MID_RESNET : "") + ", heads=" + Arrays.toString(attentionHeads)
                + ", crossAttentionDim=" + crossAttentionDim + ", groups=" + normNumGroups + ", linearProjection=" + useLinearProjection
                + ", timeCondProjDim=" + timeCondProjDim + (additionTimeEmbedDim > 0 ? ", additionTimeEmbedDim=" + additionTimeEmbedDim
                + ", addEmbedInputDim=" + addEmbedInputDim : "") + "]";
    }
}

package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Arrays;

/**
 * The configuration of diffusers' {@code ControlNetModel} (0.25.1): the U-Net's encoder half ({@link #unet}: time
 * embedding, conv_in, down and mid blocks; its up-block fields are unused) plus the conditioning embedding.
 *
 * @param unet                  the shared U-Net fields, parsed by {@link UNetConfig#fromJson}
 * @param conditioningChannels  channels of the control image (3)
 * @param embeddingChannels     conditioning_embedding_out_channels: the embedding's widths, one stride-2 step between each
 * @param bgr                   controlnet_conditioning_channel_order "bgr": the image's channels are flipped first
 */
public record ControlNetConfig(UNetConfig unet, int conditioningChannels, int[] embeddingChannels, boolean bgr) {

    /** Parses a ControlNetModel {@code config.json}; rejects what this engine does not implement. */
    public static ControlNetConfig fromJson(JsonNode c) {
        String cls = c.path("_class_name").asText("ControlNetModel");
        if (!cls.equals("ControlNetModel")) bad("_class_name " + cls + " (only ControlNetModel is supported)");
        if (c.path("global_pool_conditions").asBoolean(false)) bad("global_pool_conditions=true is not supported");
        if (c.hasNonNull("addition_embed_type"))
            bad("addition_embed_type=" + c.get("addition_embed_type") + " (an SDXL ControlNet) is not supported; SD 1.x/2.x ControlNets are");
        String order = c.path("controlnet_conditioning_channel_order").asText("rgb");
        if (!order.equals("rgb") && !order.equals("bgr")) bad("controlnet_conditioning_channel_order " + order + " (rgb or bgr)");
        int condCh = dev.jdiffusion.weights.ConfigFields.optionalInt(c, "conditioning_channels", 3, "controlnet config");
        int[] emb;
        JsonNode e = c.get("conditioning_embedding_out_channels");
        if (e == null || e.isNull()) emb = new int[]{16, 32, 96, 256};
        else {
            if (!e.isArray() || e.isEmpty()) bad("conditioning_embedding_out_channels must be a non-empty list");
            emb = new int[e.size()];
            for (int i = 0; i < emb.length; i++) emb[i] = dev.jdiffusion.weights.ConfigFields.toInt(e.get(i), "conditioning_embedding_out_channels[" + i + "]", "controlnet config");
        }
        if (condCh < 1) bad("conditioning_channels must be >= 1");
        for (int v : emb) if (v < 1) bad("conditioning_embedding_out_channels must be positive");
        // The rest is the U-Net's encoder half: parse it as a U-Net config with mirrored up blocks (never built).
        ObjectNode u = ((ObjectNode) c).deepCopy();
        u.put("_class_name", "UNet2DConditionModel");
        for (String k : new String[]{"conditioning_channels", "conditioning_embedding_out_channels",
                "controlnet_conditioning_channel_order", "global_pool_conditions"}) u.remove(k);
        if (!u.hasNonNull("up_block_types")) {
            JsonNode down = u.get("down_block_types");
            ArrayNode up = JsonNodeFactory.instance.arrayNode();
            if (down != null && down.isArray())
                for (int i = down.size() - 1; i >= 0; i--)
                    up.add(down.get(i).asText().equals(UNetConfig.CROSS_DOWN) ? UNetConfig.CROSS_UP : UNetConfig.UP);
            if (down != null) u.set("up_block_types", up);
        }
        UNetConfig uc = UNetConfig.fromJson(u);
        return new ControlNetConfig(uc, condCh, emb, order.equals("bgr"));
    }

    /**
     * Infers the configuration of a ControlNet file without one (diffusers names): widths, levels, layers and the
     * conditioning embedding come from the shapes; what shapes cannot tell follows Stable Diffusion as
     * {@link UNetConfig#infer} does (32 norm groups, SD 1.x / 2.x heads).
     */
    public static ControlNetConfig infer(TensorSource t) {
        if (!t.contains("controlnet_cond_embedding.conv_in.weight"))
            bad(t.description() + ": no controlnet_cond_embedding.conv_in.weight; not a ControlNet");
        TensorView in = t.get("controlnet_cond_embedding.conv_in.weight");
        int nBlocks = 0;
        while (t.contains("controlnet_cond_embedding.blocks." + nBlocks + ".weight")) nBlocks++;
        if (nBlocks % 2 != 0) bad(t.description() + ": odd number of controlnet_cond_embedding blocks (" + nBlocks + ")");
        int[] emb = new int[nBlocks / 2 + 1];
        emb[0] = (int) in.dim(0);
        for (int i = 1; i < emb.length; i++) emb[i] = (int) t.get("controlnet_cond_embedding.blocks." + (2 * i - 1) + ".weight").dim(0);
        ObjectNode j = JsonNodeFactory.instance.objectNode();
        int n = 0;
        while (t.contains("down_blocks." + n + ".resnets.0.conv1.weight")) n++;
        if (n == 0) bad(t.description() + ": no down_blocks.0.resnets.0.conv1.weight; not a ControlNet");
        ArrayNode boc = j.putArray("block_out_channels"), down = j.putArray("down_block_types"), heads = j.putArray("attention_head_dim");
        int lpb = 0;
        while (t.contains("down_blocks.0.resnets." + lpb + ".conv1.weight")) lpb++;
        int cross = 768, groups = 32;
        boolean linear = false;
        for (String name : t.names()) {
            if (name.endsWith("attn2.to_k.weight")) cross = (int) t.get(name).dim(1);
            if (name.endsWith(".proj_in.weight")) linear = t.get(name).rank() == 2;
        }
        for (int i = 0; i < n; i++) {
            int ch = (int) t.get("down_blocks." + i + ".resnets.0.conv1.weight").dim(0);
            boc.add(ch);
            down.add(t.contains("down_blocks." + i + ".attentions.0.norm.weight") ? UNetConfig.CROSS_DOWN : UNetConfig.DOWN);
            heads.add(cross == 1024 && ch % 64 == 0 ? ch / 64 : gcd(8, ch));
            groups = gcd(groups, ch);
        }
        j.put("_class_name", "ControlNetModel");
        j.put("in_channels", (int) t.get("conv_in.weight").dim(1));
        j.put("layers_per_block", lpb);
        j.put("cross_attention_dim", cross);
        j.put("use_linear_projection", linear);
        j.put("norm_num_groups", groups);
        j.put("conditioning_channels", (int) in.dim(1));
        ArrayNode e = j.putArray("conditioning_embedding_out_channels");
        for (int v : emb) e.add(v);
        return fromJson(j);
    }

    private static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }

    private static void bad(String msg) { throw new ModelFormatException("controlnet config: " + msg); }

    @Override public String toString() {
        return "ControlNetConfig[" + unet + ", conditioningChannels=" + conditioningChannels + ", embedding="
                + Arrays.toString(embeddingChannels) + (bgr ? ", bgr" : "") + "]";
    }
}

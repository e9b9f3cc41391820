package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Which Stable Diffusion family a checkpoint belongs to, guessed from its configs or, without configs, from
 * tensor shapes: cross-attention width 768 (CLIP ViT-L, SD 1.x) or 1024 (OpenCLIP ViT-H, SD 2.x), a
 * {@code time_cond_proj_dim} or LCM scheduler (latent consistency model, distilled from SD 1.x or 2.x).
 *
 * @param name     "SD 1.x", "SD 2.x", "LCM (SD 1.x)", "LCM (SD 2.x)" or "unknown"
 * @param evidence what the guess rests on, for display
 */
public record ModelFamily(String name, String evidence) {
    public static final String SD1 = "SD 1.x", SD2 = "SD 2.x", UNKNOWN = "unknown";

    /** True for the latent consistency families. */
    public boolean isLcm() { return name.startsWith("LCM"); }

    /** Guesses the family of an opened checkpoint; never throws for missing parts (it says "unknown"). */
    public static ModelFamily of(Checkpoint c) {
        return c.layout() == Checkpoint.Layout.DIFFUSERS ? ofFolder(c) : ofSingleFile(c.singleFile());
    }

    private static ModelFamily ofFolder(Checkpoint c) {
        JsonNode unet = safeConfig(c, Checkpoint.UNET);
        JsonNode sched = safeConfig(c, Checkpoint.SCHEDULER);
        JsonNode te = safeConfig(c, Checkpoint.TEXT_ENCODER);
        JsonNode index = c.path().resolve("model_index.json").toFile().isFile() ? Checkpoint.readJson(c.path().resolve("model_index.json")) : null;
        String base = null, why = null;
        if (unet != null && unet.hasNonNull("cross_attention_dim")) {
            JsonNode cad = unet.get("cross_attention_dim");
            long d = cad.isArray() ? cad.get(0).asLong() : cad.asLong();
            base = baseFromWidth(d);
            why = "unet cross_attention_dim " + d;
            if (base == null && unet.has("use_linear_projection")) {
                base = unet.get("use_linear_projection").asBoolean() ? SD2 : SD1;
                why += ", use_linear_projection " + unet.get("use_linear_projection").asBoolean();
            }
        }
        if (base == null && te != null && te.has("hidden_act")) {
            base = te.get("hidden_act").asText().equals("gelu") ? SD2 : SD1;
            why = "text encoder hidden_act " + te.get("hidden_act").asText();
        }
        if (base == null && c.has(Checkpoint.UNET)) {
            TensorView k = c.tensors(Checkpoint.UNET).find("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight");
            if (k != null && k.rank() == 2) {
                base = baseFromWidth(k.dim(1));
                why = "cross-attention width " + k.dim(1);
            }
        }
        String lcm = null;
        if (unet != null && unet.hasNonNull("time_cond_proj_dim")) lcm = "unet time_cond_proj_dim " + unet.get("time_cond_proj_dim").asLong();
        else if (sched != null && "LCMScheduler".equals(sched.path("_class_name").asText())) lcm = "LCMScheduler";
        else if (index != null && index.path("_class_name").asText().startsWith("LatentConsistency")) lcm = index.path("_class_name").asText();
        return result(base, why, lcm);
    }

    private static ModelFamily ofSingleFile(TensorSource f) {
        String base = null, why = null;
        TensorView k = f.find("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight");
        if (k != null && k.rank() == 2) {
            base = baseFromWidth(k.dim(1));
            why = "cross-attention width " + k.dim(1);
            if (base == null) {
                TensorView pin = f.find("model.diffusion_model.input_blocks.1.1.proj_in.weight");
                if (pin != null) {
                    base = pin.rank() == 2 ? SD2 : SD1;
                    why += ", proj_in " + (pin.rank() == 2 ? "linear" : "1x1 conv");
                }
            }
        }
        if (base == null) {
            boolean openClip = f.names().stream().anyMatch(n -> n.startsWith("cond_stage_model.model."));
            boolean clip = f.names().stream().anyMatch(n -> n.startsWith("cond_stage_model.transformer."));
            if (openClip) { base = SD2; why = "OpenCLIP text encoder (cond_stage_model.model.*)"; }
            else if (clip) { base = SD1; why = "CLIP text encoder (cond_stage_model.transformer.*)"; }
        }
        String lcm = f.contains("model.diffusion_model.time_embed.cond_proj.weight") ? "time_embed.cond_proj" : null;
        return result(base, why, lcm);
    }

    private static ModelFamily result(String base, String why, String lcm) {
        if (lcm != null) return new ModelFamily("LCM (" + (base == null ? "base unknown" : base) + ")", lcm + (why == null ? "" : "; " + why));
        if (base == null) return new ModelFamily(UNKNOWN, why == null ? "no unet config or cross-attention weights" : why);
        return new ModelFamily(base, why);
    }

    private static String baseFromWidth(long d) {
        return d == 768 ? SD1 : d == 1024 ? SD2 : null;
    }

    private static JsonNode safeConfig(Checkpoint c, String component) {
        try {
            return c.config(component);
        } catch (ModelFormatException e) {
            return null;
        }
    }
}

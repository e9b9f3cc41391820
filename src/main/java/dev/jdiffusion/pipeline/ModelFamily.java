package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;

/**
 * The model families the engine knows, with the defaults that give a good image for each. {@link #detect} is the
 * one rule that tells them apart; generate ({@link ModelComponents}) and {@code info} both use it.
 */
public enum ModelFamily {
    /** Stable Diffusion 1.x (CLIP ViT-L/14 text encoder, 768-dim cross-attention, epsilon prediction). */
    SD1("SD 1.x", "euler_a", 25, 7.5f, 512),
    /** Stable Diffusion 2.x (OpenCLIP ViT-H text encoder, 1024-dim cross-attention). */
    SD2("SD 2.x", "euler_a", 25, 7.5f, 768),
    /** Latent-consistency distilled U-Nets with a guidance embedding: few steps, no classifier-free guidance pass. */
    LCM("LCM", "lcm", 4, 8.0f, 512),
    /** Stable Diffusion XL (two text encoders, text_time added conditioning), base or refiner. */
    SDXL("SDXL", "euler", 30, 5.0f, 1024),
    /** SDXL-Turbo (adversarially distilled, 512x512 native, Euler ancestral with trailing timesteps, no guidance). */
    SDXL_TURBO("SDXL-Turbo", "euler_a", 1, 0f, 512),
    /** SDXL-Lightning / Hyper-SDXL style few-step U-Nets (Euler with trailing timesteps, no guidance). */
    SDXL_FEW_STEP("SDXL few-step (Lightning/Hyper)", "euler", 4, 0f, 1024),
    /** LCM-SDXL (a U-Net with time_cond_proj_dim): the LCM sampler with the guidance embedding. */
    SDXL_LCM("LCM-SDXL", "lcm", 4, 8.0f, 1024);

    private final String label;
    private final String defaultSampler;
    private final int defaultSteps;
    private final float defaultGuidance;
    private final int defaultSize;

    ModelFamily(String label, String sampler, int steps, float guidance, int size) {
        this.label = label;
        this.defaultSampler = sampler;
        this.defaultSteps = steps;
        this.defaultGuidance = guidance;
        this.defaultSize = size;
    }

    /** {@return the name users know ("SD 1.x"), as info prints it} */
    public String label() { return label; }

    /** {@return the sampler users expect for this family, by its lower-case name ("euler_a", "lcm", ...)} */
    public String defaultSampler() { return defaultSampler; }
    /** {@return the denoising steps a request of this family runs when it names none} */
    public int defaultSteps() { return defaultSteps; }
    /**
     * {@return the default guidance scale: classifier-free guidance for SD 1.x, 2.x and SDXL, the guidance embedding's
     * w for LCM, 0 (no guidance) for the distilled SDXL families}
     */
    public float defaultGuidance() { return defaultGuidance; }
    /** {@return true for the SDXL families} */
    public boolean isSdxl() { return name().startsWith("SDXL"); }

    /** {@return true for the latent-consistency families (guidance embedding)} */
    public boolean isLcm() { return this == LCM || this == SDXL_LCM; }

    /** {@return the native image side in pixels, the size a request that names none gets} */
    public int defaultSize() { return defaultSize; }

    /**
     * The family of a U-Net (its config, read or inferred from shapes) and its scheduler config (null for a single
     * file): an LCM guidance embedding (time_cond_proj_dim) or an LCM scheduler; SDXL by its added conditioning
     * (text_time), then SDXL-Turbo (trailing timesteps and a 512x512 native U-Net) or a few-step distilled U-Net
     * (trailing timesteps at 1024x1024) by the scheduler config; SD 2.x by a cross-attention width of 1024, else SD 1.x.
     *
     * @param unet      the U-Net's configuration
     * @param scheduler the scheduler config (scheduler_config.json), or null
     * @return the family; every U-Net has one
     */
    public static ModelFamily detect(UNetConfig unet, JsonNode scheduler) {
        boolean lcm = unet.timeCondProjDim() > 0 || "LCMScheduler".equals(schedulerClass(scheduler));
        if (unet.hasAddedConditioning()) {
            if (lcm) return SDXL_LCM;
            if (scheduler != null && "trailing".equals(scheduler.path("timestep_spacing").asText()))
                return unet.sampleSize() <= 64 ? SDXL_TURBO : SDXL_FEW_STEP;
            return SDXL;
        }
        if (lcm) return LCM;
        return unet.crossAttentionDim() >= 1024 ? SD2 : SD1;
    }

    /**
     * The facts {@link #detect} reads, for display.
     *
     * @param unet      the U-Net's configuration
     * @param scheduler the scheduler config, or null
     * @return one line, e.g. "unet cross_attention_dim 768, scheduler LCMScheduler"
     */
    public static String evidence(UNetConfig unet, JsonNode scheduler) {
        StringBuilder sb = new StringBuilder("unet cross_attention_dim ").append(unet.crossAttentionDim());
        if (unet.timeCondProjDim() > 0) sb.append(", time_cond_proj_dim ").append(unet.timeCondProjDim());
        if (unet.hasAddedConditioning())
            sb.append(", addition_embed_type text_time (").append(unet.addEmbedInputDim()).append(" wide), sample_size ").append(unet.sampleSize());
        String cls = schedulerClass(scheduler);
        if (cls != null) sb.append(", scheduler ").append(cls);
        if (scheduler != null && scheduler.hasNonNull("timestep_spacing")) sb.append(" (").append(scheduler.get("timestep_spacing").asText()).append(")");
        return sb.toString();
    }

    private static String schedulerClass(JsonNode scheduler) {
        return scheduler == null || !scheduler.hasNonNull("_class_name") ? null : scheduler.get("_class_name").asText();
    }

    /**
     * True for an SDXL refiner's files: the second text encoder without the first (the U-Net then takes the second
     * encoder's states alone, and 5 time ids with an aesthetic score instead of the target size).
     *
     * @param c the opened checkpoint
     * @return whether it holds text_encoder_2 but no text_encoder
     */
    public static boolean isRefiner(Checkpoint c) { return !c.has(Checkpoint.TEXT_ENCODER) && c.has(Checkpoint.TEXT_ENCODER_2); }

    /**
     * A family found in a checkpoint's files, or null with the reason.
     *
     * @param family   the family, or null when the checkpoint cannot be loaded as a model
     * @param evidence what the family rests on ({@link #evidence}), or why there is none
     */
    public record Detection(ModelFamily family, String evidence) {}

    /**
     * Detects an opened checkpoint's family as generate does (without --config): the U-Net's config.json, or for a
     * single file the config its shapes imply. Never throws for a model the engine cannot load: family is null and
     * evidence says why.
     *
     * @param c an opened checkpoint
     * @return the detection
     */

    public static Detection of(Checkpoint c) {
        if (!c.has(Checkpoint.UNET)) return new Detection(null, "no U-Net weights");
        try {
            UNetConfig u = UNetConfig.resolve(c.config(Checkpoint.UNET), c.tensors(Checkpoint.UNET));
            JsonNode sched = c.has(Checkpoint.SCHEDULER) ? c.config(Checkpoint.SCHEDULER) : null;
            ModelFamily f = detect(u, sched);
            return new Detection(f, evidence(u, sched) + (f.isSdxl() && isRefiner(c) ? ", refiner: the second text encoder alone, "
                    + "time ids with an aesthetic score" : ""));
        } catch (ModelFormatException e) {
            return new Detection(null, e.getMessage());
        }
    }
}

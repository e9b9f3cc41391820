package dev.jdiffusion.pipeline;

/** The model families the engine knows, with the defaults that give a good image for each. */
public enum ModelFamily {
    /** Stable Diffusion 1.x (CLIP ViT-L/14 text encoder, 768-dim cross-attention, epsilon prediction). */
    SD1("euler_a", 25, 7.5f, 512),
    /** Stable Diffusion 2.x (OpenCLIP ViT-H text encoder, 1024-dim cross-attention). */
    SD2("euler_a", 25, 7.5f, 768),
    /** Latent-consistency distilled U-Nets with a guidance embedding: few steps, no classifier-free guidance pass. */
    LCM("lcm", 4, 8.0f, 512);

    private final String defaultSampler;
    private final int defaultSteps;
    private final float defaultGuidance;
    private final int defaultSize;

    ModelFamily(String sampler, int steps, float guidance, int size) {
        this.defaultSampler = sampler;
        this.defaultSteps = steps;
        this.defaultGuidance = guidance;
        this.defaultSize = size;
    }

    /** The sampler users expect for this family. */
    public String defaultSampler() { return defaultSampler; }
    public int defaultSteps() { return defaultSteps; }
    /** Guidance scale: classifier-free guidance for SD1/SD2, the guidance embedding's w for LCM. */
    public float defaultGuidance() { return defaultGuidance; }
    /** Native image side in pixels. */
    public int defaultSize() { return defaultSize; }
}

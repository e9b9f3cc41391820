package dev.jdiffusion.weights;

/**
 * Maps the original (CompVis / single-file) key layout of the unet to diffusers' names.
 * Keys arrive with the component prefix already stripped.
 */
public final class UnetKeys {
    private UnetKeys() {}

    /** The diffusers name for an original-layout key, or null when the key is not part of the model. */
    public static String toDiffusers(String originalKey) {
        return null; // filled in by the unet model issue
    }

    /** Reshapes a mapped tensor where the layouts differ (e.g. 1x1 conv vs linear); identity otherwise. */
    public static TensorView adapt(TensorView t) {
        return t;
    }
}

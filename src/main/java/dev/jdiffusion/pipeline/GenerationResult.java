package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * The images of one request and how they were made.
 *
 * @param images          one tensor [3, H, W] in [0, 1] per image
 * @param seed            the seed used (drawn when the request had none); image i used seed + i
 * @param imageParameters per image, the generation parameters in the text form other tools read (A1111
 *                        "parameters"), with that image's seed: each reproduces its image alone
 * @param timings         seconds per phase: "text_encoder", "unet" (all steps), "vae", "total"
 */
public record GenerationResult(List<Tensor> images, long seed, List<String> imageParameters, Map<String, Double> timings) {
    /** {@return the first image's parameters text (the only one for a batch of one)} */
    public String parameters() { return imageParameters.get(0); }

    /**
     * Image i's parameters.
     *
     * @param i the image's index in {@link #images()}, from 0
     * @return its parameters text, with its own seed (seed + i)
     * @throws IndexOutOfBoundsException when i is not an image's index
     */

    public String parameters(int i) { return imageParameters.get(i); }
}

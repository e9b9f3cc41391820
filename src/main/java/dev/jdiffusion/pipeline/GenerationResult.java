package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * The images of one request and how they were made.
 *
 * @param images     one tensor [3, H, W] in [0, 1] per image
 * @param seed       the seed used (drawn when the request had none)
 * @param parameters the generation parameters in the text form other tools read (A1111 "parameters")
 * @param timings    seconds per phase: "text_encoder", "unet" (all steps), "vae", "total"
 */
public record GenerationResult(List<Tensor> images, long seed, String parameters, Map<String, Double> timings) {}

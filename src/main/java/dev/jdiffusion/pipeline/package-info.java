/**
 * The API: load a model and generate images.
 *
 * <p>{@link dev.jdiffusion.pipeline.StableDiffusion#load(dev.jdiffusion.pipeline.ModelOptions)} maps a diffusers
 * folder or a single-file checkpoint and validates it; {@link dev.jdiffusion.pipeline.StableDiffusion#generate}
 * runs a {@link dev.jdiffusion.pipeline.GenerationRequest} (prompt, size, steps, sampler, seed, init image) and
 * returns a {@link dev.jdiffusion.pipeline.GenerationResult} (images in [0, 1], seed, parameters text, timings).
 *
 * <p>Memory is checked before any work ({@link dev.jdiffusion.pipeline.MemoryEstimate}): a request that needs more
 * than the Java heap maximum or the machine's memory is refused with an {@link IllegalArgumentException} whose one
 * line says what to change. Compute threads are per model ({@link dev.jdiffusion.pipeline.ModelOptions#threads()})
 * and stop when the last model using them closes.
 *
 * <p>The JVM needs {@code --add-modules jdk.incubator.vector} (on the class path; the module {@code dev.jdiffusion}
 * requires it) and {@code --enable-native-access=ALL-UNNAMED} (or {@code =dev.jdiffusion} on the module path).
 */
package dev.jdiffusion.pipeline;

/**
 * jdiffusion: Stable Diffusion text-to-image and image-to-image inference in pure Java.
 *
 * <p>The API is {@link dev.jdiffusion.pipeline.StableDiffusion} (load a model, generate images), its requests and
 * results ({@code dev.jdiffusion.pipeline}), the image helpers ({@link dev.jdiffusion.image.Images}) and the
 * tensors results are given in ({@code dev.jdiffusion.tensor}). The packages {@code dev.jdiffusion.weights}
 * ({@link dev.jdiffusion.weights.ModelFormatException}) and {@code dev.jdiffusion.sampling} (sampler names, noise
 * sources) are exported for the types the API's signatures use. Every other package is internal and may change.
 *
 * <p>The JVM needs {@code jdk.incubator.vector} (the kernels; resolved by this module's {@code requires}, but on the
 * class path it must be added with {@code --add-modules jdk.incubator.vector}) and native access for the FFM calls
 * ({@code --enable-native-access=dev.jdiffusion} on the module path, {@code =ALL-UNNAMED} on the class path).
 * The jar works the same from the class path.
 */
module dev.jdiffusion {
    requires transitive com.fasterxml.jackson.databind;
    requires jdk.incubator.vector;
    requires java.desktop;
    requires java.management;
    requires java.net.http;
    requires jdk.httpserver;
    requires jdk.management;

    exports dev.jdiffusion.pipeline;
    exports dev.jdiffusion.image;
    exports dev.jdiffusion.tensor;
    exports dev.jdiffusion.weights;
    exports dev.jdiffusion.sampling;
}

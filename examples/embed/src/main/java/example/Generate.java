package example;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.StableDiffusion;

import java.nio.file.Path;
import java.util.Map;

/**
 * Generates one image with jdiffusion: {@code Generate MODEL PROMPT OUT.png [SIZE [STEPS]]}.
 * MODEL is a diffusers folder or a single-file .safetensors checkpoint.
 */
public final class Generate {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: Generate MODEL PROMPT OUT.png [SIZE [STEPS]]");
            System.exit(2);
        }
        int size = args.length > 3 ? Integer.parseInt(args[3]) : 0;      // 0: the model family's default
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 0;     // 0: the family's default
        try (StableDiffusion sd = StableDiffusion.load(Path.of(args[0]))) {
            GenerationRequest.Builder b = GenerationRequest.builder(args[1]).seed(42)
                    .progress(e -> System.out.println("step " + e.step() + "/" + e.total()));
            if (size > 0) b.size(size, size);
            if (steps > 0) b.steps(steps);
            GenerationResult r = sd.generate(b.build());
            Images.writePng(Path.of(args[2]), r.images().get(0), Map.of("parameters", r.parameters()));
            System.out.println("wrote " + args[2] + " (seed " + r.seed() + ")");
        }
    }
}

package dev.jdiffusion.pipeline;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A LoRA file and its weight (the user's multiplier; negative weights push away from the LoRA). The weight is
 * scaled by the file's alpha / rank per module, as diffusers and A1111 do.
 */
public record LoraRef(Path file, float weight) {
    public LoraRef {
        Objects.requireNonNull(file, "file");
        if (!Float.isFinite(weight) || Math.abs(weight) > 100)
            throw new IllegalArgumentException("LoRA weight must be a finite number in [-100, 100], got " + weight + " for " + file);
    }
}

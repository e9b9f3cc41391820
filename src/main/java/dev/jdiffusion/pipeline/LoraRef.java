package dev.jdiffusion.pipeline;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A LoRA file and its weight (the user's multiplier; negative weights push away from the LoRA). The weight is
 * scaled by the file's alpha / rank per module, as diffusers and A1111 do.
 *
 * @param file   the LoRA .safetensors file (kohya / A1111, LoCon, diffusers or PEFT keys); read when a generation
 *               first uses it, not here
 * @param weight the multiplier, finite and within [-100, 100]; 1 applies the LoRA as trained, 0 not at all
 */
public record LoraRef(Path file, float weight) {
    /**
     * Checks the file is given and the weight is in range.
     *
     * @throws NullPointerException     when file is null
     * @throws IllegalArgumentException when the weight is not finite or its magnitude is above 100
     */
    public LoraRef {

        Objects.requireNonNull(file, "file");
        if (!Float.isFinite(weight) || Math.abs(weight) > 100)
            throw new IllegalArgumentException("LoRA weight must be a finite number in [-100, 100], got " + weight + " for " + file);
    }
}

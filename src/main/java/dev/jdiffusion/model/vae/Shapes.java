package dev.jdiffusion.model.vae;

import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;

/** Load-time consistency checks with clear messages. */
final class Shapes {
    private Shapes() {}

    static void check(TensorSource s, String what, boolean ok, String message) {
        if (!ok) throw new ModelFormatException(s.description() + ": " + what + ": " + message);
    }
}

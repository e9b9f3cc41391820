package dev.jdiffusion.model.clip;

import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Set;

/**
 * Reads the CLIP text encoder's tensors with shape and dtype checks, recording every name it used so
 * that left-over (unknown) tensors can be reported.
 */
final class ClipWeights {
    /** A linear layer: weight [out, in] stays mapped; bias copied. */
    record Linear(Matrix weight, float[] bias) {}

    /** A layer norm's gamma and beta. */
    record Norm(float[] weight, float[] bias) {}

    private final TensorSource src;
    private final Set<String> used;

    ClipWeights(TensorSource src, Set<String> used) {
        this.src = src;
        this.used = used;
    }

    TensorView tensor(String name, long... shape) {
        TensorView t = src.get(name).expectShape(shape);
        DType d = t.dtype();
        if (d != DType.F32 && d != DType.F16 && d != DType.BF16)
            throw new ModelFormatException(src.description() + ": tensor " + name + " has dtype " + d + ", expected F32, F16 or BF16");
        used.add(name);
        return t;
    }

    float[] vector(String name, int n) { return tensor(name, n).toFloatArray(); }

    Linear linear(String prefix, int out, int in) {
        return new Linear(Matrix.of(tensor(prefix + ".weight", out, in)), vector(prefix + ".bias", out));
    }

    Norm norm(String prefix, int n) {
        return new Norm(vector(prefix + ".weight", n), vector(prefix + ".bias", n));
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Hands out the U-Net's tensors while recording every problem (missing tensor, wrong shape), so that
 * {@link #finish()} can report them all at once, with unexpected tensors, before any compute.
 * Big weights stay mapped ({@link Matrix#of(TensorView)}); small vectors are copied.
 */
final class UNetWeights {
    private final TensorSource src;
    private final Set<String> used = new HashSet<>();
    private final List<String> missing = new ArrayList<>();
    private final List<String> wrongShape = new ArrayList<>();
    private final java.util.Map<String, long[]> requested = new java.util.LinkedHashMap<>();

    UNetWeights(TensorSource src) { this.src = src; }

    private TensorView view(String name, long... shape) {
        used.add(name);
        requested.putIfAbsent(name, shape.clone());
        TensorView t = src.find(name);
        if (t == null) {
            missing.add(name);
            return null;
        }
        if (!t.dtype().isFloating()) {
            wrongShape.add(name + " has dtype " + t.dtype() + ", expected a floating type");
            return null;
        }
        if (!Arrays.equals(t.shape(), shape)) {
            wrongShape.add(name + " has shape " + Arrays.toString(t.shape()) + ", the config implies " + Arrays.toString(shape));
            return null;
        }
        return t;
    }

    /** A weight matrix (linear [out, in] or conv [out, in, k, k]) kept in the mapped file; null if bad (recorded). */
    Matrix matrix(String name, long... shape) {
        TensorView t = view(name, shape);
        return t == null ? null : Matrix.of(t);
    }

    /** A small vector copied to the heap; zeros if bad (recorded). */
    float[] vector(String name, int n) {
        TensorView t = view(name, n);
        return t == null ? new float[n] : t.toFloatArray();
    }

    /** Every tensor asked for so far, with the shape the config implies, in the order the model was built. */
    java.util.Map<String, long[]> requested() { return java.util.Collections.unmodifiableMap(requested); }

    /** Records a structural problem (reported by {@link #finish}). */
    void problem(String message) { wrongShape.add(message); }

    /** Throws one {@link ModelFormatException} listing every missing, mis-shaped and unexpected tensor. */
    void finish(UNetConfig cfg) {
        Set<String> unexpected = new TreeSet<>(src.names());
        unexpected.removeAll(used);
        if (missing.isEmpty() && wrongShape.isEmpty() && unexpected.isEmpty()) return;
        StringBuilder sb = new StringBuilder(src.description()).append(": tensors do not match the unet config ").append(cfg);
        list(sb, "missing", missing);
        list(sb, "wrong shape", wrongShape);
        list(sb, "unexpected", new ArrayList<>(unexpected));
        throw new ModelFormatException(sb.toString());
    }

    private static void list(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) return;
        sb.append("\n  ").append(what).append(" (").append(items.size()).append("):");
        int shown = 0;
        for (String s : items) {
            if (shown++ == 50) {
                sb.append("\n    ... and ").append(items.size() - 50).append(" more");
                break;
            }
            sb.append("\n    ").append(s);
        }
    }
}

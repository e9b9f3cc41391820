package dev.jdiffusion.model.unet;

import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Set;

/** A source with no tensors: builds a weightless model skeleton (for counting flops). */
final class EmptySource implements TensorSource {
    @Override public Set<String> names() { return Set.of(); }
    @Override public TensorView find(String name) { return null; }
    @Override public String description() { return "(no weights)"; }
}

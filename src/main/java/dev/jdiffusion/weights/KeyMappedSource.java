package dev.jdiffusion.weights;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/** A renamed view of another source; used to present original-layout checkpoints under diffusers' names. */
final class KeyMappedSource implements TensorSource {
    private final TensorSource base;
    private final String description;
    private final Map<String, String> toBase = new LinkedHashMap<>();
    private final UnaryOperator<TensorView> transform;

    private KeyMappedSource(TensorSource base, String description, UnaryOperator<TensorView> transform) {
        this.base = base;
        this.description = description;
        this.transform = transform;
    }

    static KeyMappedSource of(TensorSource base, String description, Function<String, String> fn, UnaryOperator<TensorView> transform) {
        KeyMappedSource s = new KeyMappedSource(base, description, transform);
        for (String n : base.names()) {
            String m = fn.apply(n);
            if (m == null) continue;
            String prev = s.toBase.putIfAbsent(m, n);
            if (prev != null)
                throw new ModelFormatException(description + ": tensors " + prev + " and " + n + " both map to " + m);
        }
        return s;
    }

    @Override public Set<String> names() { return Collections.unmodifiableSet(toBase.keySet()); }

    @Override public TensorView find(String name) {
        String b = toBase.get(name);
        if (b == null) return null;
        return transform.apply(base.find(b).renamed(name));
    }

    @Override public String description() { return description; }

    @Override public Map<String, String> metadata() { return base.metadata(); }
}

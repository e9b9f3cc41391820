package dev.jdiffusion.weights;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Several sources (shards, or a model and a separate VAE file) seen as one namespace; owns and closes them. */
public final class MultiSource implements TensorSource {
    private final List<TensorSource> parts;
    private final Map<String, TensorSource> owner = new LinkedHashMap<>();
    private final String description;

    /**
     * Combines sources; the new source owns them and closes them all when closed.
     *
     * @param description the combined source's description, for error messages
     * @param parts the sources, in order (their metadata is merged in this order, later parts winning)
     * @throws ModelFormatException when {@code parts} is empty or a tensor name appears in two parts
     */
    public MultiSource(String description, List<? extends TensorSource> parts) {
        if (parts.isEmpty()) throw new ModelFormatException(description + ": no tensor files to open (empty file list)");
        this.description = description;
        this.parts = new ArrayList<>(parts);
        for (TensorSource p : parts)
            for (String n : p.names()) {
                TensorSource prev = owner.putIfAbsent(n, p);
                if (prev != null)
                    throw new ModelFormatException(description + ": tensor " + n + " appears in both " + prev.description() + " and " + p.description());
            }
    }

    @Override public Set<String> names() { return Collections.unmodifiableSet(owner.keySet()); }

    @Override public TensorView find(String name) {
        TensorSource s = owner.get(name);
        return s == null ? null : s.find(name);
    }

    @Override public String description() { return description; }

    @Override public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        for (TensorSource p : parts) m.putAll(p.metadata());
        return m;
    }

    @Override public void close() {
        for (TensorSource p : parts) p.close();
    }
}

package dev.jdiffusion.weights;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A view of a model component's tensors whose weights can carry low-rank (LoRA) terms: every tensor it hands out is
 * a view of its own over the same mapped bytes (the file's views stay untouched), and {@link #apply} sets the terms
 * of the whole component at once. The model built from this source reads its weights through these views, so
 * switching LoRAs between generations changes what the kernels read without rebuilding or reloading anything.
 * The base file is never copied. Not for use while the model computes (the pipeline applies between runs).
 */
public final class LoraTargets implements TensorSource {
    private final TensorSource base;
    private final Map<String, TensorView> handedOut = new ConcurrentHashMap<>();
    private volatile Map<String, LowRank> applied = Map.of();

    /**
     * A view over base with no terms set. The view does not own base: closing it does nothing.
     *
     * @param base the component's tensors (not null)
     */
    public LoraTargets(TensorSource base) { this.base = base; }

    @Override public Set<String> names() { return base.names(); }

    @Override public TensorView find(String name) {
        TensorView v = handedOut.get(name);
        if (v != null) return v;
        TensorView b = base.find(name);
        if (b == null) return null;
        return handedOut.computeIfAbsent(name, n -> b.renamed(n));
    }

    @Override public String description() { return base.description(); }

    @Override public Map<String, String> metadata() { return base.metadata(); }

    /**
     * The terms set now.
     *
     * @return an unmodifiable map from tensor name to its terms (empty when none)
     */
    public Map<String, LowRank> applied() { return applied; }

    /**
     * Replaces all terms: each named tensor gets its terms, every other tensor none. Validates every entry first
     * (the tensor exists, is floating and has the terms' rows x cols elements), so a bad entry changes nothing.
     *
     * @param terms the terms by tensor name (a name of this source); an empty map removes all terms
     * @throws ModelFormatException naming the first tensor that does not fit
     */
    public void apply(Map<String, LowRank> terms) {
        for (Map.Entry<String, LowRank> e : terms.entrySet()) {
            TensorView v = find(e.getKey());
            if (v == null) throw new ModelFormatException(base.description() + ": no tensor " + e.getKey() + " for a low-rank term");
            LowRank lr = e.getValue();
            if (!v.dtype().isFloating() || v.rank() < 1 || v.dim(0) != lr.rows() || (long) lr.rows() * lr.cols() != v.numel())
                throw new ModelFormatException(base.description() + ": tensor " + e.getKey() + " " + Arrays.toString(v.shape())
                        + " does not fit a low-rank term of " + lr.rows() + "x" + lr.cols());
        }
        for (Map.Entry<String, TensorView> e : handedOut.entrySet()) {
            LowRank lr = terms.get(e.getKey());
            if (e.getValue().lowRank() != lr) e.getValue().setLowRank(lr);
        }
        applied = Map.copyOf(terms);
    }

    /**
     * The underlying source.
     *
     * @return the source given to the constructor
     */
    public TensorSource base() { return base; }
}

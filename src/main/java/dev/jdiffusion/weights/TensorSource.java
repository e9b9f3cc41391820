package dev.jdiffusion.weights;

import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A namespace of named tensors: one safetensors file, several shards, or a renamed/filtered view of one.
 * Closing a source releases the mapped files it owns.
 */
public interface TensorSource extends AutoCloseable {

    /**
     * All tensor names, in a stable order.
     *
     * @return the names (never null; may be unmodifiable)
     */
    Set<String> names();

    /**
     * Looks a tensor up.
     *
     * @param name the tensor's name in this source
     * @return the tensor, or null when absent
     */
    TensorView find(String name);

    /**
     * A short description of where the tensors come from, for error messages.
     *
     * @return the description (usually a file path)
     */
    String description();

    /**
     * Looks a required tensor up.
     *
     * @param name the tensor's name in this source
     * @return the tensor (never null)
     * @throws ModelFormatException naming the tensor and the source when absent
     */
    default TensorView get(String name) {
        TensorView t = find(name);
        if (t == null) throw new ModelFormatException(description() + ": missing tensor " + name);
        return t;
    }

    /**
     * Whether a tensor is present.
     *
     * @param name the tensor's name in this source
     * @return true when {@link #find} would return a tensor
     */
    default boolean contains(String name) { return find(name) != null; }

    /**
     * Free-form string metadata (a safetensors header's {@code __metadata__}).
     *
     * @return the metadata, empty (never null) when none
     */
    default Map<String, String> metadata() { return Map.of(); }

    @Override
    default void close() {}

    /**
     * A view that keeps only names starting with prefix and strips it ("unet." + "conv_in.weight" -> "conv_in.weight").
     * The view does not own the underlying files: closing it does nothing.
     *
     * @param prefix the prefix to keep and strip
     * @return the view
     */
    default TensorSource withPrefix(String prefix) {
        return KeyMappedSource.of(this, description() + " [" + prefix + "*]",
                n -> n.startsWith(prefix) ? n.substring(prefix.length()) : null, t -> t);
    }

    /**
     * A view whose names are mapped by fn (null drops the tensor) and whose tensors may be transformed
     * (for example reshaped); the result does not own the underlying files.
     *
     * @param description the view's description, for error messages
     * @param fn maps a name of this source to the view's name, or to null to drop the tensor
     * @param transform applied to each tensor the view returns
     * @return the view
     */
    default TensorSource mapped(String description, Function<String, String> fn, UnaryOperator<TensorView> transform) {
        return KeyMappedSource.of(this, description, fn, transform);
    }
}

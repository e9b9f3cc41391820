package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A {@link NoiseSource} that hands out given tensors in order (recorded noise, e.g. from a reference run). */
public final class ReplayNoise implements NoiseSource {
    private final List<Tensor> tensors;
    private int next;

    public ReplayNoise(List<Tensor> tensors) { this.tensors = new ArrayList<>(tensors); }

    @Override
    public Tensor next(int... shape) {
        if (next >= tensors.size())
            throw new IllegalStateException("replay noise exhausted after " + tensors.size() + " tensors");
        Tensor t = tensors.get(next++);
        if (t.numel() != Tensor.numel(shape))
            throw new IllegalArgumentException("replay noise #" + (next - 1) + " has shape " + Arrays.toString(t.shape())
                    + ", asked for " + Arrays.toString(shape));
        return t.reshape(shape);
    }

    /** How many tensors have been handed out. */
    public int used() { return next; }
}

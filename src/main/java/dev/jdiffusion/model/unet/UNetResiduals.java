package dev.jdiffusion.model.unet;

import dev.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Residuals a U-Net adds to its skip connections and to its mid block's output, as diffusers'
 * {@code down_block_additional_residuals} and {@code mid_block_additional_residual} (what a ControlNet produces).
 * {@code down.get(i)} has the shape of the U-Net's skip i (conv_in's output, then every down-block layer and
 * downsampler output, in order); {@code mid} has the shape of the mid block's output.
 */
public record UNetResiduals(List<Tensor> down, Tensor mid) {
    public UNetResiduals {
        down = List.copyOf(down);
        java.util.Objects.requireNonNull(mid, "mid");
    }

    /** The element-wise sum of two sets of residuals (several ControlNets at once); either may be null. */
    public static UNetResiduals sum(UNetResiduals a, UNetResiduals b) {
        if (a == null) return b;
        if (b == null) return a;
        if (a.down.size() != b.down.size())
            throw new IllegalArgumentException("residuals differ in count: " + a.down.size() + " vs " + b.down.size());
        List<Tensor> d = new ArrayList<>();
        for (int i = 0; i < a.down.size(); i++) d.add(add(a.down.get(i), b.down.get(i)));
        return new UNetResiduals(d, add(a.mid, b.mid));
    }

    /** x + r as a new tensor; the shapes must be equal. */
    static Tensor add(Tensor x, Tensor r) {
        if (!java.util.Arrays.equals(x.shape(), r.shape()))
            throw new IllegalArgumentException("residual " + r + " does not match " + x);
        float[] a = x.data(), b = r.data(), o = new float[a.length];
        for (int i = 0; i < o.length; i++) o[i] = a[i] + b[i];
        return new Tensor(o, x.shape());
    }
}

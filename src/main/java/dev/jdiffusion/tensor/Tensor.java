package dev.jdiffusion.tensor;

import dev.jdiffusion.weights.TensorView;

import java.util.Arrays;

/**
 * A dense float32 tensor on the heap: row-major data and a shape. Activations and public results use it;
 * weights stay in mapped files as {@link TensorView}s.
 */
public final class Tensor {
    private final float[] data;
    private final int[] shape;

    public Tensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
        this.data = data;
        this.shape = shape.clone();
    }

    /** A zero tensor of the given shape. */
    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("tensor too large: " + Arrays.toString(shape));
        return new Tensor(new float[(int) n], shape);
    }

    /** A heap float32 copy of a mapped tensor. */
    public static Tensor of(TensorView v) {
        long[] s = v.shape();
        int[] shape = new int[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = Math.toIntExact(s[i]);
        return new Tensor(v.toFloatArray(), shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The backing array (not a copy). */
    public float[] data() { return data; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
    public int numel() { return data.length; }

    /** Same data, another shape with the same element count. */
    public Tensor reshape(int... newShape) { return new Tensor(data, newShape); }

    @Override public String toString() { return "Tensor" + Arrays.toString(shape); }
}

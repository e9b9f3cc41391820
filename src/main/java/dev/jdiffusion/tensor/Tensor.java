package dev.jdiffusion.tensor;

import dev.jdiffusion.weights.TensorView;

import java.util.Arrays;

/**
 * A dense float32 tensor on the heap: row-major data and a shape. Activations and public results use it;
 * weights stay in mapped files as {@link TensorView}s.
 *
 * <p>The shape is fixed; the data array is shared, not copied (by the constructor, {@link #data()} and
 * {@link #reshape}), so writes through it are seen by every tensor on the same array. Not thread-safe for writes;
 * the engine never modifies a tensor it has returned or been given.
 */
public final class Tensor {
    private final float[] data;
    private final int[] shape;

    /**
     * A tensor over an existing array.
     *
     * @param data  the values, row-major; used as is, not copied
     * @param shape the dimensions (copied); their product must equal {@code data.length}
     * @throws IllegalArgumentException when the element counts differ or a dimension is negative
     */
    public Tensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length) throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
        this.data = data;
        this.shape = shape.clone();
    }

    /**
     * A zero tensor of the given shape.
     *
     * @param shape the dimensions
     * @return a new tensor over a new zeroed array
     * @throws IllegalArgumentException a negative dimension, or more elements than a Java array holds
     */
    public static Tensor zeros(int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("tensor too large: " + Arrays.toString(shape));
        return new Tensor(new float[(int) n], shape);
    }

    /**
     * A heap float32 copy of a mapped tensor.
     *
     * @param v a weight tensor (any dtype the engine reads: F32, F16, BF16), converted to float32
     * @return a new tensor of the same shape
     * @throws ArithmeticException when a dimension does not fit an int
     */
    public static Tensor of(TensorView v) {
        long[] s = v.shape();
        int[] shape = new int[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = Math.toIntExact(s[i]);
        return new Tensor(v.toFloatArray(), shape);
    }

    /**
     * The element count of a shape.
     *
     * @param shape the dimensions (none: a scalar, 1 element)
     * @return their product
     * @throws IllegalArgumentException a negative dimension
     * @throws ArithmeticException      when the product overflows a long
     */
    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** {@return the backing array, row-major (not a copy: writes to it change this tensor)} */
    public float[] data() { return data; }
    /** {@return a copy of the dimensions} */
    public int[] shape() { return shape.clone(); }
    /** {@return the number of dimensions} */
    public int rank() { return shape.length; }
    /**
     * One dimension.
     *
     * @param i the axis, from 0; negative counts from the end (-1: the last)
     * @return its size
     * @throws ArrayIndexOutOfBoundsException when there is no such axis
     */
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
    /** {@return the number of elements (the data array's length)} */
    public int numel() { return data.length; }

    /**
     * Same data, another shape with the same element count.
     *
     * @param newShape the new dimensions
     * @return a new tensor sharing this one's array
     * @throws IllegalArgumentException when the element count differs
     */
    public Tensor reshape(int... newShape) { return new Tensor(data, newShape); }

    /** {@return "Tensor" and the shape, e.g. "Tensor[1, 3, 512, 512]"} */
    @Override public String toString() {
 return "Tensor" + Arrays.toString(shape); }
}

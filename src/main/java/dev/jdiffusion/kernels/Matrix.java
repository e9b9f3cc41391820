package dev.jdiffusion.kernels;

import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorView;

/**
 * A weight matrix of {@code rows x cols} as the GEMM kernels consume it: a linear layer's weight
 * ({@code [out, in]}) or a convolution's weight flattened to {@code [cout, cin*kh*kw]}.
 * Backed by a mapped tensor (F32/F16/BF16) or a heap float array. The kernels read it through
 * {@link #readRow} while packing GEMM panels, converting to float on the fly.
 */
public final class Matrix {
    private final int rows, cols;
    private final TensorView view;
    private final float[] dense;
    /** Winograd-transformed filters of a 3x3 conv weight, kept by {@link Winograd#filtersFor} within its cache budget. */
    volatile float[] winograd;
    /** The same for the weight with low-rank terms ({@link #lowRank()}): the terms and their filters, one pair. */
    volatile LowRankFilters winogradLowRank;

    record LowRankFilters(Object key, float[] filters) {}

    private Matrix(int rows, int cols, TensorView view, float[] dense) {
        this.rows = rows;
        this.cols = cols;
        this.view = view;
        this.dense = dense;
    }

    /** A matrix view of a weight tensor whose first dimension is rows and the rest flatten into cols. */
    public static Matrix of(TensorView t) {
        if (t.rank() < 1) throw new ModelFormatException(t.source() + ": tensor " + t.name() + " is a scalar, expected a matrix");
        long r = t.dim(0), c = t.numel() / Math.max(1, r);
        if (r > Integer.MAX_VALUE || c > Integer.MAX_VALUE)
            throw new ModelFormatException(t.source() + ": tensor " + t.name() + " too large");
        return new Matrix((int) r, (int) c, t, null);
    }

    /** A heap matrix (row-major, rows x cols). */
    public static Matrix of(float[] data, int rows, int cols) {
        if ((long) rows * cols != data.length) throw new IllegalArgumentException("matrix " + rows + "x" + cols + " vs " + data.length);
        return new Matrix(rows, cols, null, data);
    }

    public int rows() { return rows; }
    public int cols() { return cols; }

    /** The backing tensor, or null for a heap matrix. */
    public TensorView view() { return view; }

    /**
     * The low-rank (LoRA) terms the backing tensor adds to every read at the moment, or null: the packers fold them
     * into the weight panels while converting ({@link TensorView#readFloats}).
     */
    public dev.jdiffusion.weights.LowRank lowRank() { return view == null ? null : view.lowRank(); }

    /** The same weight without its low-rank terms (a view of the same mapped bytes), or this when it has none. */
    public Matrix withoutLowRank() {
        return lowRank() == null ? this : new Matrix(rows, cols, view.renamed(view.name()), null);
    }

    /** Reads row r, columns [c0, c0+n), as float into dst[off..] (with any low-rank terms added). */
    public void readRow(int r, int c0, float[] dst, int off, int n) {
        float[] d = dense;
        if (d != null && lowRank() == null) System.arraycopy(d, r * cols + c0, dst, off, n);
        else view.readFloats((long) r * cols + c0, dst, off, n);
    }
}

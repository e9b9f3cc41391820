package dev.jdiffusion.weights;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.List;

/**
 * Low-rank terms added to a weight seen as a matrix {@code [rows, cols]} (a conv weight flattened to
 * {@code [cout, cin*kh*kw]}): {@code W' = W + Σ s_i · (up_i @ down_i)}, up_i {@code [rows, r_i]}, down_i
 * {@code [r_i, cols]}, applied in order (LoRA files one after the other, as diffusers fuses them).
 *
 * <p>Nothing is materialised: {@link TensorView#readFloats} adds the terms to each range it converts, so the GEMM
 * packers fold them into the weight panels while packing. Each element is {@code fl(W + fl(s · fl(Σ_k up·down)))}
 * with the sum over k in ascending order: the same bits for any thread count or tiling. Immutable.
 */
public final class LowRank {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * One term {@code scale · (up @ down)}.
     *
     * @param scale the factor s the product is multiplied by
     * @param rank the inner dimension r
     * @param up the {@code [rows, rank]} matrix, row-major (held, not copied: do not modify)
     * @param down the {@code [rank, cols]} matrix, row-major (held, not copied: do not modify)
     */
    public record Term(float scale, int rank, float[] up, float[] down) {}

    private final int rows, cols;
    private final List<Term> terms;

    private LowRank(int rows, int cols, List<Term> terms) {
        this.rows = rows;
        this.cols = cols;
        this.terms = List.copyOf(terms);
    }

    /**
     * Terms for a {@code [rows, cols]} weight.
     *
     * @param rows the weight's first dimension
     * @param cols the product of the weight's other dimensions
     * @param terms the terms, in the order they are applied; each term's arrays must be rows x rank and rank x cols
     * @return the immutable set of terms
     * @throws IllegalArgumentException when a term's arrays do not have those sizes
     */
    public static LowRank of(int rows, int cols, List<Term> terms) {
        for (Term t : terms)
            if (t.up.length != (long) rows * t.rank || t.down.length != (long) t.rank * cols)
                throw new IllegalArgumentException("low-rank term of rank " + t.rank + " does not fit " + rows + "x" + cols);
        return new LowRank(rows, cols, terms);
    }

    /**
     * This plus more terms after it (they are applied after these).
     *
     * @param more terms for a weight of the same shape
     * @return a new instance holding both lists of terms; neither input changes
     * @throws IllegalArgumentException when the shapes differ
     */
    public LowRank plus(LowRank more) {
        if (more.rows != rows || more.cols != cols) throw new IllegalArgumentException("low-rank terms of different shapes");
        List<Term> all = new ArrayList<>(terms);
        all.addAll(more.terms);
        return new LowRank(rows, cols, all);
    }

    /**
     * The weight's first dimension.
     *
     * @return the number of rows
     */
    public int rows() { return rows; }

    /**
     * The product of the weight's other dimensions.
     *
     * @return the number of columns
     */
    public int cols() { return cols; }

    /**
     * The terms in the order they are applied.
     *
     * @return an unmodifiable list
     */
    public List<Term> terms() { return terms; }

    /**
     * Heap bytes the terms' arrays hold.
     *
     * @return 4 bytes per element of every up and down matrix
     */
    public long bytes() {
        long b = 0;
        for (Term t : terms) b += 4L * (t.up.length + t.down.length);
        return b;
    }

    /** Adds the terms to count converted elements of the flattened weight starting at element start, in dst[off..]. */
    void addTo(long start, float[] dst, int off, int count) {
        float[] tmp = null;
        long end = start + count;
        for (long e = start; e < end; ) {
            int r = (int) (e / cols), c0 = (int) (e - (long) r * cols);
            int n = (int) Math.min(cols - c0, end - e);
            int o = off + (int) (e - start);
            for (Term t : terms) {
                if (tmp == null || tmp.length < n) tmp = new float[Math.max(n, 64)];
                rowProduct(t, r, c0, n, tmp);
                float s = t.scale;
                for (int j = 0; j < n; j++) dst[o + j] += s * tmp[j];
            }
            e += n;
        }
    }

    /** One element with the terms added to its base value w (for scalar reads; the same bits as {@link #addTo}). */
    float add(long index, float w) {
        int r = (int) (index / cols), c = (int) (index - (long) r * cols);
        float[] one = new float[1];
        for (Term t : terms) {
            rowProduct(t, r, c, 1, one);
            w += t.scale * one[0];
        }
        return w;
    }

    /** out[j] = Σ_k up[r, k] · down[k, c0 + j] for j < n, k ascending (a fused multiply-add chain from zero). */
    private static void rowProduct(Term t, int r, int c0, int n, float[] out) {
        int rank = t.rank, cols = t.down.length / Math.max(1, rank);
        float[] up = t.up, down = t.down;
        int ub = r * rank;
        int j = 0, bound = S.loopBound(n);
        for (; j < bound; j += S.length()) {
            FloatVector acc = FloatVector.zero(S);
            for (int k = 0; k < rank; k++)
                acc = FloatVector.fromArray(S, down, k * cols + c0 + j).fma(FloatVector.broadcast(S, up[ub + k]), acc);
            acc.intoArray(out, j);
        }
        for (; j < n; j++) {
            float acc = 0f;
            for (int k = 0; k < rank; k++) acc = Math.fma(down[k * cols + c0 + j], up[ub + k], acc);
            out[j] = acc;
        }
    }
}

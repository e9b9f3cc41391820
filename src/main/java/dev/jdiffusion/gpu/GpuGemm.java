package dev.jdiffusion.gpu;

import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A linear layer on the GPU: {@code y = x·Wᵀ (+ b)} with {@code x [rows, in]}, {@code W [out, in]} (the shape of
 * {@code kernels.Gemm.linear} and of a convolution lowered to a GEMM), the weight uploaded once in half precision
 * (FP16, or BF16 when the file holds BF16) and multiplied by {@code cublasGemmEx} with FP32 accumulation.
 *
 * <p>Row-major to cuBLAS's column-major: a row-major {@code [r, c]} array is a column-major {@code [c, r]} one, so
 * row-major {@code Y[rows, out] = X·Wᵀ} is column-major {@code Yᶜ[out, rows] = Wᶜᵀ·Xᶜ} with {@code Wᶜ [in, out]}
 * and {@code Xᶜ [in, rows]}: {@code gemmEx(OP_T, OP_N, m=out, n=rows, k=in, W, lda=in, X, ldb=in, Y, ldc=out)}.
 *
 * <p>Precision: activations are rounded to the weight's half type before the product (the CPU path keeps them in
 * FP32), so results differ from the CPU kernels by about 1e-3 relative; the golden tolerances must be checked on a
 * GPU before this is wired behind the kernels.
 *
 * <p><b>Untested on a GPU</b> (the build machine has no driver): written for a later session to verify against
 * {@code kernels.Gemm.linear} and wire in. Not thread-safe: one instance per thread or stream.
 */
public final class GpuGemm implements AutoCloseable {
    private final CudaRuntime rt;
    private final Cublas blas;
    private final int out, in, halfType;
    private final float[] bias;
    private final long weight;
    private Arena staging;
    private long dx, dy;
    private int capacityRows;
    private MemorySegment hostX, hostY;

    private GpuGemm(CudaRuntime rt, Cublas blas, int out, int in, int halfType, long weight, float[] bias) {
        this.rt = rt;
        this.blas = blas;
        this.out = out;
        this.in = in;
        this.halfType = halfType;
        this.weight = weight;
        this.bias = bias;
    }

    /**
     * Uploads {@code w} ({@code [out, in]}) to the current device once: an F16 or BF16 mapped tensor is copied as it
     * is, anything else is converted to FP16 row by row.
     *
     * @param bias {@code out} floats, or null
     */
    public static GpuGemm upload(CudaRuntime rt, Cublas blas, Matrix w, float[] bias) {
        int out = w.rows(), in = w.cols();
        if (bias != null && bias.length != out) throw new IllegalArgumentException("bias has " + bias.length + " values for " + out + " outputs");
        long bytes = (long) out * in * 2;
        TensorView v = w.view();
        boolean asIs = v != null && v.lowRank() == null && (v.dtype() == DType.F16 || v.dtype() == DType.BF16) && v.segment().isNative()
                       && v.segment().byteSize() == bytes;
        int type = asIs && v.dtype() == DType.BF16 ? Cublas.R_16BF : Cublas.R_16F;
        long dw = rt.malloc(bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src;
            if (asIs) {
                src = v.segment();
            } else {
                src = a.allocate(bytes, 2);
                float[] row = new float[in];
                for (int r = 0; r < out; r++) {
                    w.readRow(r, 0, row, 0, in);
                    long base = (long) r * in * 2;
                    for (int c = 0; c < in; c++) src.set(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * c, Float.floatToFloat16(row[c]));
                }
            }
            rt.copyToDevice(dw, src, bytes);
        } catch (RuntimeException e) {
            rt.free(dw);
            throw e;
        }
        return new GpuGemm(rt, blas, out, in, type, dw, bias == null ? null : bias.clone());
    }

    public int outFeatures() { return out; }

    public int inFeatures() { return in; }

    /** {@code y[yOff + r*out + o] = Σ x[xOff + r*in + i]·W[o, i] + b[o]} for {@code rows} rows (synchronous). */
    public void linear(float[] x, int xOff, int rows, float[] y, int yOff) {
        if (rows <= 0) return;
        if ((long) xOff + (long) rows * in > x.length || (long) yOff + (long) rows * out > y.length)
            throw new IllegalArgumentException("linear " + rows + "x" + in + " -> " + rows + "x" + out + ": arrays too short");
        ensureCapacity(rows);
        long n = (long) rows * in;
        if (halfType == Cublas.R_16BF) {
            for (long i = 0; i < n; i++) hostX.setAtIndex(ValueLayout.JAVA_SHORT, i, toBf16(x[xOff + (int) i]));
        } else {
            for (long i = 0; i < n; i++) hostX.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(x[xOff + (int) i]));
        }
        rt.copyToDevice(dx, hostX, n * 2);
        blas.gemmEx(Cublas.OP_T, Cublas.OP_N, out, rows, in, 1f, weight, halfType, in, dx, halfType, in, 0f, dy, Cublas.R_32F, out);
        long m = (long) rows * out;
        rt.copyToHost(hostY, dy, m * 4); // cudaMemcpy on the default stream waits for the GEMM
        MemorySegment.copy(hostY, ValueLayout.JAVA_FLOAT, 0, y, yOff, (int) m);
        if (bias != null)
            for (int r = 0; r < rows; r++) {
                int o0 = yOff + r * out;
                for (int o = 0; o < out; o++) y[o0 + o] += bias[o];
            }
    }

    /** Round-to-nearest-even FP32 to BF16 (NaN stays NaN). */
    static short toBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((b >>> 16) | 0x40);
        return (short) ((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16);
    }

    private void ensureCapacity(int rows) {
        if (rows <= capacityRows) return;
        if (dx != 0) rt.free(dx);
        if (dy != 0) rt.free(dy);
        dx = dy = 0;
        dx = rt.malloc((long) rows * in * 2);
        dy = rt.malloc((long) rows * out * 4);
        if (staging != null) staging.close();
        staging = Arena.ofShared();
        hostX = staging.allocate((long) rows * in * 2, 16);
        hostY = staging.allocate((long) rows * out * 4, 16);
        capacityRows = rows;
    }

    /** Frees the device weight and buffers, and the host staging memory. */
    @Override public void close() {
        rt.free(weight);
        if (dx != 0) rt.free(dx);
        if (dy != 0) rt.free(dy);
        dx = dy = 0;
        if (staging != null) staging.close();
        staging = null;
    }
}

package dev.jdiffusion.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A cuBLAS handle ({@code libcublas.so.13} or {@code .12}) through FFM downcalls: {@code cublasCreate_v2},
 * {@code cublasDestroy_v2}, {@code cublasSetStream_v2}, {@code cublasSetMathMode}, {@code cublasSgemm_v2} and
 * {@code cublasGemmEx} (FP16/BF16/FP32 inputs, FP32 accumulation with {@code CUBLAS_COMPUTE_32F}).
 *
 * <p>cuBLAS is column-major: see {@link GpuGemm} for the row-major {@code C = A·Bᵀ} mapping. Scalars (alpha, beta)
 * are host pointers (the default {@code CUBLAS_POINTER_MODE_HOST}), read before the call returns.
 *
 * <p><b>Untested on a GPU</b>: written from the cuBLAS API reference (cublas_api.h of CUDA 12/13); the build machine
 * has no driver and no cuBLAS. Only loading failures are exercised by the tests. Not thread-safe (as a cuBLAS handle
 * is not): use one per thread or stream.
 */
public final class Cublas implements AutoCloseable {
    /** cublasOperation_t. */
    public static final int OP_N = 0, OP_T = 1;
    /** cudaDataType_t (library_types.h). */
    public static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    /** cublasComputeType_t: FP32 accumulation (no TF32 down-conversion). */
    public static final int COMPUTE_32F = 68;
    /** cublasGemmAlgo_t: let cuBLAS choose (tensor cores where the types allow). */
    public static final int GEMM_DEFAULT = -1;
    /** cublasMath_t: default math (FP32 stays FP32; no TF32). */
    public static final int DEFAULT_MATH = 0;

    private final CudaRuntime rt;
    private final CudaLibraries.Loaded lib;
    private final MethodHandle destroy, setStream, sgemm, gemmEx, statusString;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment scalars = arena.allocate(JAVA_FLOAT, 2);
    private MemorySegment handle;

    private Cublas(CudaRuntime rt, CudaLibraries.Loaded lib) {
        this.rt = rt;
        this.lib = lib;
        MethodHandle create = Native.handle(lib, "cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = Native.handle(lib, "cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setStream = Native.handle(lib, "cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        MethodHandle setMath = Native.handle(lib, "cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        // cublasStatus_t cublasSgemm_v2(handle, transa, transb, m, n, k, const float *alpha, const float *A, int lda,
        //                               const float *B, int ldb, const float *beta, float *C, int ldc)
        sgemm = Native.handle(lib, "cublasSgemm_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        // cublasStatus_t cublasGemmEx(handle, transa, transb, m, n, k, const void *alpha, const void *A, cudaDataType Atype,
        //     int lda, const void *B, cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
        //     cublasComputeType_t computeType, cublasGemmAlgo_t algo)
        gemmEx = Native.handle(lib, "cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT));
        statusString = lib.optional("cublasGetStatusString")
                .map(s -> Native.LINKER.downcallHandle(s, FunctionDescriptor.of(ADDRESS, JAVA_INT))).orElse(null);
        MemorySegment p = arena.allocate(ADDRESS);
        check("cublasCreate_v2", Native.status(create, p));
        handle = p.get(ADDRESS, 0);
        check("cublasSetMathMode(CUBLAS_DEFAULT_MATH)", Native.status(setMath, handle, DEFAULT_MATH));
    }

    /**
     * Loads cuBLASLt and cuBLAS (found by {@code libraries}) and creates a handle on the runtime's current device.
     *
     * @throws CudaException a library not found (naming where it was looked for), or cublasCreate failed
     */
    public static Cublas create(CudaRuntime rt, CudaLibraries libraries) {
        // libcublas needs libcublasLt; loading it first by its full path lets libcublas resolve it even when its
        // folder is not on the loader's path.
        libraries.cublasLt().load(Arena.global());
        return new Cublas(rt, libraries.cublas().load(Arena.global()));
    }

    /** Where cuBLAS was loaded from. */
    public String location() { return lib.where(); }

    /** Queues this handle's work on {@code stream} (0: the default stream). */
    public void setStream(long stream) {
        check("cublasSetStream_v2", Native.status(setStream, handle(), MemorySegment.ofAddress(stream)));
    }

    /** FP32 GEMM, column-major: {@code C = alpha·op(A)·op(B) + beta·C}, all device addresses. */
    public void sgemm(int transA, int transB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb, float beta,
                      long c, int ldc) {
        scalars.set(JAVA_FLOAT, 0, alpha);
        scalars.set(JAVA_FLOAT, 4, beta);
        check("cublasSgemm_v2(m=" + m + ", n=" + n + ", k=" + k + ")", Native.status(sgemm, handle(), transA, transB, m, n, k,
                scalars, MemorySegment.ofAddress(a), lda, MemorySegment.ofAddress(b), ldb, scalars.asSlice(4),
                MemorySegment.ofAddress(c), ldc));
    }

    /**
     * Mixed-type GEMM, column-major, FP32 accumulation ({@link #COMPUTE_32F}, so alpha and beta are floats):
     * {@code C = alpha·op(A)·op(B) + beta·C}. A and B types are {@link #R_16F}, {@link #R_16BF} or {@link #R_32F}
     * (equal), C is {@link #R_32F} or the input type.
     */
    public void gemmEx(int transA, int transB, int m, int n, int k, float alpha, long a, int aType, int lda, long b, int bType,
                       int ldb, float beta, long c, int cType, int ldc) {
        scalars.set(JAVA_FLOAT, 0, alpha);
        scalars.set(JAVA_FLOAT, 4, beta);
        check("cublasGemmEx(m=" + m + ", n=" + n + ", k=" + k + ")", Native.status(gemmEx, handle(), transA, transB, m, n, k,
                scalars, MemorySegment.ofAddress(a), aType, lda, MemorySegment.ofAddress(b), bType, ldb, scalars.asSlice(4),
                MemorySegment.ofAddress(c), cType, ldc, COMPUTE_32F, GEMM_DEFAULT));
    }

    private MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("cuBLAS handle is closed");
        return handle;
    }

    private void check(String call, int status) {
        if (status == 0) return;
        String text = statusString == null ? "" : ": " + Native.string(Native.pointer(statusString, status), "");
        String hint = switch (status) {
            case 1 -> " (cuBLAS not initialized: is the NVIDIA driver installed? " + rt.describe() + ")";
            case 3 -> " (out of GPU memory)";
            case 8 -> " (this GPU's architecture is not supported by this cuBLAS)";
            default -> "";
        };
        throw new CudaException(call + " failed with " + statusName(status) + text + hint + " (cuBLAS at " + lib.where() + ")", status, null);
    }

    /** The cublasStatus_t name of a status code. */
    static String statusName(int s) {
        return switch (s) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cublasStatus " + s;
        };
    }

    @Override public void close() {
        if (handle != null) {
            int s = Native.status(destroy, handle);
            handle = null;
            arena.close();
            check("cublasDestroy_v2", s);
        }
    }
}

/*
 * Host-only stand-ins for libcudart, libcublas and libcuda, built by FakeCudaTest with the system C compiler against
 * the real CUDA headers (so struct layouts and enum values are the toolkit's). "Device memory" is host memory, GEMMs
 * are naive column-major loops following the cuBLAS reference semantics, and kernel launches are recorded. They test
 * the Java side of the bindings (symbol names, argument order and marshalling, the row-major/column-major mapping),
 * not CUDA itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime_api.h>
#include <cuda.h>
#include <library_types.h>

/* ---------------- libcudart ---------------- */
cudaError_t cudaRuntimeGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaDriverGetVersion(int *v) { *v = 13000; return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d) {
    if (d != 0) return cudaErrorInvalidDevice;
    memset(p, 0, sizeof *p);
    strcpy(p->name, "Fake GPU");
    p->totalGlobalMem = (size_t) 3 << 30;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *v, enum cudaDeviceAttr a, int d) {
    if (d != 0) return cudaErrorInvalidDevice;
    *v = a == cudaDevAttrComputeCapabilityMajor ? 9 : a == cudaDevAttrComputeCapabilityMinor ? 0 : a == cudaDevAttrMultiProcessorCount ? 132 : 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
static long live_allocations;
cudaError_t cudaMalloc(void **p, size_t n) {
    if (n > ((size_t) 1 << 40)) return cudaErrorMemoryAllocation;
    *p = malloc(n);
    live_allocations++;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) { if (p) { free(p); live_allocations--; } return cudaSuccess; }
long fakeLiveAllocations(void) { return live_allocations; }
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k) {
    if (k != cudaMemcpyHostToDevice && k != cudaMemcpyDeviceToHost) return cudaErrorInvalidMemcpyDirection;
    memcpy(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k, cudaStream_t st) { return cudaMemcpy(d, s, n, k); }
cudaError_t cudaMemGetInfo(size_t *f, size_t *t) { *f = (size_t) 2 << 30; *t = (size_t) 3 << 30; return cudaSuccess; }
cudaError_t cudaStreamCreate(cudaStream_t *s) { *s = (cudaStream_t) (intptr_t) 0x5000; return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t s) { return s == (cudaStream_t) (intptr_t) 0x5000 ? cudaSuccess : cudaErrorInvalidResourceHandle; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { return cudaStreamSynchronize(s); }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "fake error"; }
const char *cudaGetErrorName(cudaError_t e) { return e == cudaErrorMemoryAllocation ? "cudaErrorMemoryAllocation" : "cudaErrorFake"; }

/* ---------------- libcublas (column-major, as the cuBLAS reference defines) ---------------- */
typedef struct { void *stream; int math; } fake_handle;
int cublasCreate_v2(fake_handle **h) { *h = calloc(1, sizeof(fake_handle)); return 0; }
int cublasDestroy_v2(fake_handle *h) { free(h); return 0; }
int cublasSetStream_v2(fake_handle *h, void *s) { h->stream = s; return 0; }
int cublasSetMathMode(fake_handle *h, int m) { h->math = m; return 0; }
const char *cublasGetStatusString(int s) { return s == 7 ? "the value is invalid" : "fake status"; }

static float load(const void *p, int type, long i) {
    if (type == CUDA_R_32F) return ((const float *) p)[i];
    if (type == CUDA_R_16F) return (float) ((const _Float16 *) p)[i];
    if (type == CUDA_R_16BF) { uint32_t b = (uint32_t) ((const uint16_t *) p)[i] << 16; float f; memcpy(&f, &b, 4); return f; }
    return 0.0f / 0.0f;
}
/* op(X)[r, c] for a column-major X with leading dimension ld */
static float at(const void *x, int type, int ld, int trans, int r, int c) {
    return trans ? load(x, type, (long) r * ld + c) : load(x, type, (long) c * ld + r);
}
static int gemm(int ta, int tb, int m, int n, int k, float alpha, const void *a, int at_, int lda, const void *b, int bt,
                int ldb, float beta, void *c, int ct, int ldc) {
    if (ta < 0 || ta > 1 || tb < 0 || tb > 1 || m < 0 || n < 0 || k < 0 || ct != CUDA_R_32F) return 7;
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;
    float *cf = c;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double) at(a, at_, lda, ta, i, p) * at(b, bt, ldb, tb, p, j);
            cf[(long) j * ldc + i] = (float) (alpha * s + (beta == 0 ? 0 : beta * cf[(long) j * ldc + i]));
        }
    return 0;
}
int cublasSgemm_v2(fake_handle *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                   const float *b, int ldb, const float *beta, float *c, int ldc) {
    return gemm(ta, tb, m, n, k, *alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, *beta, c, CUDA_R_32F, ldc);
}
int cublasGemmEx(fake_handle *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *a, int at_, int lda,
                 const void *b, int bt, int ldb, const void *beta, void *c, int ct, int ldc, int compute, int algo) {
    if (compute != 68 /* CUBLAS_COMPUTE_32F */ || algo != -1 /* CUBLAS_GEMM_DEFAULT */ || at_ != bt) return 7;
    return gemm(ta, tb, m, n, k, *(const float *) alpha, a, at_, lda, b, bt, ldb, *(const float *) beta, c, ct, ldc);
}

/* ---------------- libcuda (records the last launch) ---------------- */
static const char *module_text;
static char last_launch[512];
CUresult cuInit(unsigned f) { return f == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }
CUresult cuDeviceGet(CUdevice *d, int o) { *d = o; return o == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) { *c = (CUcontext) (intptr_t) 0x6000; return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) { return c == (CUcontext) (intptr_t) 0x6000 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }
CUresult cuModuleLoadData(CUmodule *m, const void *image) {
    module_text = strdup(image);
    *m = (CUmodule) (intptr_t) 0x7000;
    return strstr(module_text, ".entry") ? CUDA_SUCCESS : CUDA_ERROR_INVALID_PTX;
}
CUresult cuModuleUnload(CUmodule m) { return CUDA_SUCCESS; }
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    char pat[256];
    snprintf(pat, sizeof pat, ".entry %s(", name);
    if (!module_text || !strstr(module_text, pat)) return CUDA_ERROR_NOT_FOUND;
    *f = (CUfunction) strdup(name);
    return CUDA_SUCCESS;
}
/* The fake knows only the signature of softmax_rows (x, y, cols, scale) and add_per_channel (y, bias, batch, channels, hw). */
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, CUstream s, void **params, void **extra) {
    const char *name = (const char *) f;
    if (!strcmp(name, "softmax_rows"))
        snprintf(last_launch, sizeof last_launch, "%s grid %u,%u,%u block %u,%u,%u shared %u stream %lx x=%lx y=%lx cols=%d scale=%g",
                 name, gx, gy, gz, bx, by, bz, shared, (long) s, (long) *(void **) params[0], (long) *(void **) params[1],
                 *(int *) params[2], *(float *) params[3]);
    else if (!strcmp(name, "add_per_channel"))
        snprintf(last_launch, sizeof last_launch, "%s batch=%lld channels=%d hw=%d", name, *(long long *) params[2],
                 *(int *) params[3], *(int *) params[4]);
    else
        snprintf(last_launch, sizeof last_launch, "%s", name);
    return extra == NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
const char *fakeLastLaunch(void) { return last_launch; }
CUresult cuGetErrorName(CUresult e, const char **s) { *s = e == CUDA_ERROR_NOT_FOUND ? "CUDA_ERROR_NOT_FOUND" : "CUDA_ERROR_FAKE"; return CUDA_SUCCESS; }
CUresult cuGetErrorString(CUresult e, const char **s) { *s = "fake driver error"; return CUDA_SUCCESS; }

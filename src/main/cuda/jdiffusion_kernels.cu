// jdiffusion GPU kernels for the operations cuBLAS lacks. FP32 activations, NCHW layouts as in the CPU kernels
// (dev.jdiffusion.kernels). Compiled to PTX by tools/build-ptx; the PTX is committed under
// src/main/resources/dev/jdiffusion/gpu/ and loaded at run time with cuModuleLoadData (see CudaDriver, PtxKernels).
//
// UNTESTED ON A GPU: these compile with nvcc but have not been run; verify each against the CPU kernels first.
//
// Launch conventions (all kernels are extern "C", so their PTX names are unmangled):
//   row kernels (softmax_rows, layer_norm_rows): grid = rows, block = 256 threads.
//   group_norm_silu: grid = batch * groups, block = 256 threads.
//   elementwise kernels: grid = ceil(n / 256), block = 256 threads.

#include <math.h>

#define BLOCK 256

// Sum of v over the block (blockDim.x == BLOCK, a multiple of 32); every thread gets the result.
__device__ float block_sum(float v) {
    __shared__ float partial[BLOCK / 32];
    __shared__ float total;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (BLOCK / 32) ? partial[lane] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) total = s;
    }
    __syncthreads();
    float r = total;
    __syncthreads(); // partial/total may be reused by the next call
    return r;
}

__device__ float block_max(float v) {
    __shared__ float partial[BLOCK / 32];
    __shared__ float total;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (BLOCK / 32) ? partial[lane] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1) s = fmaxf(s, __shfl_xor_sync(0xffffffffu, s, o));
        if (lane == 0) total = s;
    }
    __syncthreads();
    float r = total;
    __syncthreads();
    return r;
}

// im2col for one image: x [cin, h, w] -> col [cin*kh*kw, oh*ow] (row = (c, ky, kx), column = output pixel), so that
// conv = W [cout, cin*kh*kw] · col. Padding (top, left) given; out-of-range pixels read 0.
extern "C" __global__ void im2col(const float* __restrict__ x, float* __restrict__ col, int cin, int h, int w,
                                  int kh, int kw, int stride, int padTop, int padLeft, int oh, int ow) {
    long long n = (long long) cin * kh * kw * oh * ow;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        int ox = (int) (i % ow);
        long long t = i / ow;
        int oy = (int) (t % oh);
        t /= oh;
        int kx = (int) (t % kw);
        t /= kw;
        int ky = (int) (t % kh);
        int c = (int) (t / kh);
        int iy = oy * stride - padTop + ky, ix = ox * stride - padLeft + kx;
        col[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[((long long) c * h + iy) * w + ix] : 0.0f;
    }
}

// Group norm of x [batch, channels, hw] into y (may alias x), per (batch, group); gamma/beta per channel; optional
// SiLU. Mean and variance in two passes (as the CPU kernel), biased variance, eps inside the square root.
extern "C" __global__ void group_norm_silu(const float* x, float* y, const float* __restrict__ gamma,
                                           const float* __restrict__ beta, int channels, int hw, int groups, float eps,
                                           int silu) {
    int b = blockIdx.x / groups, g = blockIdx.x % groups;
    int cpg = channels / groups;
    long long base = ((long long) b * channels + (long long) g * cpg) * hw;
    long long n = (long long) cpg * hw;
    float s = 0.0f;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) s += x[base + i];
    float mean = block_sum(s) / (float) n;
    float q = 0.0f;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) {
        float d = x[base + i] - mean;
        q += d * d;
    }
    float inv = rsqrtf(block_sum(q) / (float) n + eps);
    for (long long i = threadIdx.x; i < n; i += blockDim.x) {
        int c = g * cpg + (int) (i / hw);
        float v = (x[base + i] - mean) * inv * gamma[c] + beta[c];
        if (silu) v = v / (1.0f + expf(-v));
        y[base + i] = v;
    }
}

// Softmax of each row of x [rows, cols] into y (may alias x), scaled first: y = softmax(scale * x).
extern "C" __global__ void softmax_rows(const float* x, float* y, int cols, float scale) {
    long long base = (long long) blockIdx.x * cols;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, x[base + i] * scale);
    m = block_max(m);
    float s = 0.0f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += expf(x[base + i] * scale - m);
    float inv = 1.0f / block_sum(s);
    for (int i = threadIdx.x; i < cols; i += blockDim.x) y[base + i] = expf(x[base + i] * scale - m) * inv;
}

// Layer norm of each row of x [rows, cols] into y (may alias x), with gamma/beta per column.
extern "C" __global__ void layer_norm_rows(const float* x, float* y, const float* __restrict__ gamma,
                                           const float* __restrict__ beta, int cols, float eps) {
    long long base = (long long) blockIdx.x * cols;
    float s = 0.0f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += x[base + i];
    float mean = block_sum(s) / (float) cols;
    float q = 0.0f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
        float d = x[base + i] - mean;
        q += d * d;
    }
    float inv = rsqrtf(block_sum(q) / (float) cols + eps);
    for (int i = threadIdx.x; i < cols; i += blockDim.x) y[base + i] = (x[base + i] - mean) * inv * gamma[i] + beta[i];
}

__device__ __forceinline__ float gelu_exact(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }

// Exact (erf) GELU, elementwise, n values; y may alias x.
extern "C" __global__ void gelu(const float* x, float* y, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x)
        y[i] = gelu_exact(x[i]);
}

// GEGLU as diffusers: x [rows, 2*d] = [hidden | gate] -> y [rows, d] = hidden * gelu(gate).
extern "C" __global__ void geglu(const float* __restrict__ x, float* __restrict__ y, long long rows, int d) {
    long long n = rows * d;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        long long r = i / d;
        int c = (int) (i % d);
        const float* row = x + r * 2 * d;
        y[i] = row[c] * gelu_exact(row[d + c]);
    }
}

// SiLU, elementwise; y may alias x.
extern "C" __global__ void silu(const float* x, float* y, long long n) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = v / (1.0f + expf(-v));
    }
}

// y [batch, channels, hw] += bias per channel (a convolution's bias after the GEMM).
extern "C" __global__ void add_per_channel(float* y, const float* __restrict__ bias, long long batch, int channels, int hw) {
    long long n = batch * channels * (long long) hw;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x)
        y[i] += bias[(i / hw) % channels];
}

/**
 * Optional CUDA path, bound at run time through FFM (no JNI, no build-time CUDA dependency): {@link
 * dev.jdiffusion.gpu.CudaLibraries} finds libcudart/libcublas/libcuda of CUDA 12 or 13, {@link
 * dev.jdiffusion.gpu.CudaRuntime}, {@link dev.jdiffusion.gpu.Cublas} and {@link dev.jdiffusion.gpu.CudaDriver} bind
 * them, {@link dev.jdiffusion.gpu.Device} selects cpu/auto/cuda, {@link dev.jdiffusion.gpu.GpuGemm} is a linear layer on
 * cuBLAS and {@link dev.jdiffusion.gpu.PtxKernels} loads the committed PTX for the other ops.
 *
 * <p>Status: discovery, selection and the error paths are tested without a GPU, and the bindings are tested against
 * host-only stand-ins of the CUDA libraries (FakeCudaTest). Nothing here has yet run on a real GPU; run
 * {@link dev.jdiffusion.gpu.GpuSelfCheck} there first. The pipeline does not offload to the GPU yet.
 */
package dev.jdiffusion.gpu;

package dev.jdiffusion.gpu;

import java.util.Locale;

/**
 * One CUDA device as the runtime describes it.
 *
 * @param ordinal         the device number (as {@code cudaSetDevice} takes it)
 * @param name            e.g. "NVIDIA H100 80GB HBM3"
 * @param totalMemory     global memory in bytes
 * @param major           compute capability, major
 * @param minor           compute capability, minor
 * @param multiprocessors streaming multiprocessors
 */
public record CudaDeviceInfo(int ordinal, String name, long totalMemory, int major, int minor, int multiprocessors) {
    /** "cuda:0 NVIDIA H100 80GB HBM3, compute capability 9.0, 79.1 GiB, 132 SMs". */
    @Override public String toString() {
        return String.format(Locale.ROOT, "cuda:%d %s, compute capability %d.%d, %.1f GiB, %d SMs", ordinal, name, major, minor,
                totalMemory / (double) (1L << 30), multiprocessors);
    }
}

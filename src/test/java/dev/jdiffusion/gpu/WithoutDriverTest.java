package dev.jdiffusion.gpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The parts of the driver, cuBLAS and GEMM bindings that run without a GPU: their "not found" paths and the host-side
 * conversions. The GPU calls themselves are untested here (no driver on the build machine, none in CI).
 */
class WithoutDriverTest {
    @Test void driverLibraryMissingSaysWhereItWasLookedFor(@TempDir Path home) {
        CudaException e = assertThrows(CudaException.class, () -> CudaDriver.load(CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false)));
        assertTrue(e.getMessage().startsWith("NVIDIA driver library (libcuda) not found: looked for libcuda.so.1 in " + home.resolve("lib64")),
                e.getMessage());
    }

    /** On a machine without the NVIDIA driver (the build machine, CI) the system search finds no libcuda.so.1. */
    @Test void noDriverOnThisMachine() {
        try {
            CudaDriver.load(CudaLibraries.system());
            assumeTrue(false, "libcuda.so.1 is installed here");
        } catch (CudaException e) {
            assertTrue(e.getMessage().contains("libcuda.so.1") && e.getMessage().contains("system loader"), e.getMessage());
        }
    }

    @Test void cublasMissingIsReportedByName(@TempDir Path home) {
        CudaRuntime rt = CudaRuntimeTest.runtimeOrSkip();
        CudaException e = assertThrows(CudaException.class, () -> Cublas.create(rt, CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false)));
        assertTrue(e.getMessage().startsWith("cuBLASLt (libcublasLt) not found: looked for libcublasLt.so.13, libcublasLt.so.12 in "), e.getMessage());
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", Cublas.statusName(15));
    }

    @Test void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, GpuGemm.toBf16(1f));
        assertEquals((short) 0xC000, GpuGemm.toBf16(-2f));
        assertEquals((short) 0x3F80, GpuGemm.toBf16(Float.intBitsToFloat(0x3F808000))); // tie, even stays
        assertEquals((short) 0x3F82, GpuGemm.toBf16(Float.intBitsToFloat(0x3F818000))); // tie, odd rounds up
        assertEquals((short) 0x3F81, GpuGemm.toBf16(Float.intBitsToFloat(0x3F808001)));
        assertTrue(Float.isNaN(Float.intBitsToFloat(GpuGemm.toBf16(Float.NaN) << 16)));
        assertEquals((short) 0x7F80, GpuGemm.toBf16(Float.POSITIVE_INFINITY));
    }
}

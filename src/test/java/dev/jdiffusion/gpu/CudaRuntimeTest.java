package dev.jdiffusion.gpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA runtime binding where there is no GPU. On a machine with libcudart but no NVIDIA driver (the build
 * machine) every device call must fail with the one-line "no driver" message; where libcudart is absent (CI) those
 * assertions are skipped by assumption, and where a driver is installed (a GPU machine) too.
 */
class CudaRuntimeTest {
    static CudaRuntime runtimeOrSkip() {
        try {
            return CudaRuntime.load();
        } catch (CudaException e) {
            assumeTrue(false, "no CUDA runtime here: " + e.getMessage());
            throw e;
        }
    }

    @Test void noRuntimeFoundNamesEveryPlaceTried(@TempDir Path home) {
        CudaException e = assertThrows(CudaException.class, () -> CudaRuntime.load(CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false)));
        assertTrue(e.getMessage().contains(home.resolve("lib64").toString()), e.getMessage());
        assertEquals(-1, e.code());
    }

    @Test void withoutADriverEveryDeviceCallSaysSo() {
        CudaRuntime rt = runtimeOrSkip();
        assumeTrue(rt.driverVersion() == 0, "an NVIDIA driver is installed here");
        assertTrue(rt.runtimeVersion() >= 12000, "runtime " + rt.runtimeVersion());
        String expected = "CUDA runtime " + rt.runtimeVersion() / 1000 + "." + rt.runtimeVersion() % 1000 / 10 + " found at " + rt.location()
                          + " but no NVIDIA driver is installed (cudaErrorInsufficientDriver)";
        CudaException e = assertThrows(CudaException.class, rt::deviceCount);
        assertEquals(expected, e.getMessage());
        assertEquals(CudaRuntime.INSUFFICIENT_DRIVER, e.code());
        assertEquals(expected, assertThrows(CudaException.class, () -> rt.setDevice(0)).getMessage());
        assertEquals(expected, assertThrows(CudaException.class, () -> rt.malloc(1024)).getMessage());
        assertEquals(expected, assertThrows(CudaException.class, () -> rt.properties(0)).getMessage());
        assertEquals(expected, assertThrows(CudaException.class, rt::streamCreate).getMessage());
    }

    @Test void errorNamesAndStringsComeFromTheRuntime() {
        CudaRuntime rt = runtimeOrSkip();
        assertEquals("cudaErrorInsufficientDriver", rt.errorName(35));
        assertEquals("cudaErrorNoDevice", rt.errorName(100));
        assertFalse(rt.errorString(2).isBlank());
        // a code without a special case: the call, the name, the text and where the runtime is
        String m = rt.error("cudaMemcpy(host to device, 4 bytes)", 1).getMessage();
        assertTrue(m.startsWith("cudaMemcpy(host to device, 4 bytes) failed: cudaErrorInvalidValue: "), m);
        assertTrue(m.endsWith("(" + rt.describe() + ")"), m);
        assertTrue(rt.error("cudaMalloc(1 bytes)", 2).getMessage().startsWith("out of GPU memory in cudaMalloc"));
        assertTrue(rt.error("cudaGetDeviceCount", 100).getMessage().contains("no CUDA-capable GPU is visible"));
    }

    @Test void badArgumentsAreRejectedBeforeAnyCall() {
        CudaRuntime rt = runtimeOrSkip();
        assertThrows(IllegalArgumentException.class, () -> rt.malloc(0));
        assertThrows(IllegalArgumentException.class, () -> rt.copyToDevice(0, java.lang.foreign.MemorySegment.ofArray(new float[4]), 16));
    }
}

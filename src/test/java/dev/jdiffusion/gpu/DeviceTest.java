package dev.jdiffusion.gpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Device selection without a GPU: cpu touches nothing, auto falls back with a reason, cuda fails in one line. */
class DeviceTest {
    static final Supplier<CudaRuntime> MUST_NOT_LOAD = () -> {
        throw new AssertionError("the CPU path must not load CUDA");
    };

    static Supplier<CudaRuntime> nowhere(Path home) {
        return () -> CudaRuntime.load(CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false));
    }

    @Test void cpuLoadsNothing() {
        assertSame(Device.CPU, Device.select("cpu", MUST_NOT_LOAD));
        assertSame(Device.CPU, Device.select(" CPU ", MUST_NOT_LOAD));
        assertFalse(Device.CPU.isCuda());
        assertTrue(Device.CPU.cuda().isEmpty());
    }

    @Test void autoFallsBackToTheCpuWithTheReason(@TempDir Path home) {
        Device d = Device.select("auto", nowhere(home));
        assertEquals(Device.Kind.CPU, d.kind());
        assertTrue(d.note().startsWith("auto: cpu, no usable CUDA device (CUDA runtime (libcudart) not found: looked for "), d.note());
        assertTrue(d.note().contains(home.resolve("lib64").toString()), d.note());
        assertFalse(d.note().contains("\n"));
    }

    @Test void cudaFailsWithOneLineSayingWhatWasLookedFor(@TempDir Path home) {
        CudaException e = assertThrows(CudaException.class, () -> Device.select("cuda", nowhere(home)));
        assertTrue(e.getMessage().contains("looked for libcudart.so.13, libcudart.so.12 in " + home.resolve("lib64")), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    /** This machine: a runtime without a driver. Skipped where libcudart is absent (CI) or a driver is present. */
    @Test void onThisMachineAutoIsCpuBecauseThereIsNoDriver() {
        CudaRuntime rt = CudaRuntimeTest.runtimeOrSkip();
        assumeTrue(rt.driverVersion() == 0, "an NVIDIA driver is installed here");
        Device d = Device.select("auto");
        assertFalse(d.isCuda());
        assertTrue(d.note().endsWith("but no NVIDIA driver is installed (cudaErrorInsufficientDriver))"), d.note());
        CudaException e = assertThrows(CudaException.class, () -> Device.select("cuda:1"));
        assertTrue(e.getMessage().endsWith("but no NVIDIA driver is installed (cudaErrorInsufficientDriver)"), e.getMessage());
    }

    @Test void badNamesAreArgumentErrors() {
        for (String s : new String[]{"bogus", "", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Device.select(s, MUST_NOT_LOAD), s);
            assertTrue(e.getMessage().startsWith("device must be auto, cpu, cuda or cuda:N"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Device.normalize(null));
        assertEquals("cuda:3", Device.normalize("CUDA:3"));
    }
}

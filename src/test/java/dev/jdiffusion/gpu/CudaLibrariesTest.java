package dev.jdiffusion.gpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Where the CUDA libraries are looked for, and what a failed search says. Needs no GPU and no CUDA. */
class CudaLibrariesTest {
    @Test void emptyCudaHomeFindsNothingAndListsThePathsTried(@TempDir Path home) {
        CudaLibraries libs = CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false);
        CudaLibraries.Search s = libs.cudart();
        assertFalse(s.foundOnDisk());
        assertEquals(List.of("libcudart.so.13", "libcudart.so.12"), s.fileNames());
        assertTrue(s.sonames().isEmpty(), "system loader off");
        CudaException e = assertThrows(CudaException.class, () -> s.load(Arena.ofAuto()));
        String m = e.getMessage();
        assertTrue(m.startsWith("CUDA runtime (libcudart) not found: looked for libcudart.so.13, libcudart.so.12 in "), m);
        assertTrue(m.contains(home.resolve("lib64").toString()) && m.contains(home.resolve("lib").toString()), m);
        assertTrue(m.contains("set CUDA_HOME"), m);
        assertFalse(m.contains("\n"), "one line: " + m);
    }

    @Test void searchOrderIsCudaHomeCudaPathThenLdLibraryPath(@TempDir Path tmp) {
        Path a = tmp.resolve("a"), b = tmp.resolve("b"), c = tmp.resolve("c"), d = tmp.resolve("d");
        CudaLibraries libs = CudaLibraries.of(Map.of("CUDA_HOME", a.toString(), "CUDA_PATH", b.toString(),
                "LD_LIBRARY_PATH", c + ":" + d + "::"), false);
        List<Path> f = libs.folders();
        assertEquals(List.of(a.resolve("lib64"), a.resolve("lib"), a.resolve("targets/x86_64-linux/lib"),
                b.resolve("lib64"), b.resolve("lib"), b.resolve("targets/x86_64-linux/lib"), c, d), f);
    }

    @Test void findsVersionedFilesPreferringCuda13(@TempDir Path home) throws IOException {
        Files.createDirectories(home.resolve("lib64"));
        Files.createDirectories(home.resolve("lib"));
        Files.writeString(home.resolve("lib64/libcublas.so.12"), "not a library");
        Files.writeString(home.resolve("lib/libcublas.so.13"), "not a library");
        Files.writeString(home.resolve("lib64/libcublasLt.so.12"), "not a library");
        CudaLibraries libs = CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false);
        CudaLibraries.Search s = libs.cublas();
        // folder order first (lib64 before lib), then the version order inside each folder
        assertEquals(List.of(home.resolve("lib64/libcublas.so.12"), home.resolve("lib/libcublas.so.13")), s.found());
        assertEquals(List.of(home.resolve("lib64/libcublasLt.so.12")), libs.cublasLt().found());
        assertFalse(libs.cudart().foundOnDisk());
        // a file that is not a shared library is reported, not silently skipped
        CudaException e = assertThrows(CudaException.class, () -> s.load(Arena.ofAuto()));
        assertTrue(e.getMessage().contains(home.resolve("lib64/libcublas.so.12") + " did not load (not an ELF shared library)"), e.getMessage());
    }

    @Test void driverIsLookedForAsLibcudaSo1(@TempDir Path home) {
        CudaLibraries.Search s = CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false).driver();
        assertEquals(List.of("libcuda.so.1"), s.fileNames());
        CudaException e = assertThrows(CudaException.class, () -> s.load(Arena.ofAuto()));
        assertTrue(e.getMessage().startsWith("NVIDIA driver library (libcuda) not found: looked for libcuda.so.1 in "), e.getMessage());
    }

    @Test void systemSearchIncludesUsrLocalCudaAndTheLoader() {
        CudaLibraries.Search s = CudaLibraries.system().cudart();
        assertTrue(s.tried().contains("/usr/local/cuda/lib64") && s.tried().contains("/usr/local/cuda/lib"), s.tried().toString());
        assertEquals(List.of("libcudart.so.13", "libcudart.so.12"), s.sonames());
        assertTrue(s.describe().endsWith("and through the system loader (ldconfig)"), s.describe());
    }

    /** On the build machine: CUDA 13's runtime lies in /usr/local/cuda-13.0/lib. Skipped where it is absent (CI). */
    @Test void findsTheInstalledRuntimeWhereThereIsOne() {
        Path here = Path.of("/usr/local/cuda-13.0/lib/libcudart.so.13");
        assumeTrue(Files.isRegularFile(here), "no CUDA 13 runtime installed at " + here);
        CudaLibraries.Search s = CudaLibraries.system().cudart();
        assertTrue(s.found().contains(here), s.found().toString());
    }
}

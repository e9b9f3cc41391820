package dev.jdiffusion.gpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The committed PTX: present, text, one {@code .entry} per kernel, and in step with the .cu source. */
class PtxKernelsTest {
    @Test void ptxResourceDefinesEveryKernel() {
        String ptx = PtxKernels.ptx();
        assertTrue(ptx.chars().allMatch(c -> c == '\n' || c == '\t' || c == '\r' || (c >= 32 && c < 127)), "PTX is ASCII text");
        assertTrue(ptx.contains(".target sm_"), "has a .target line");
        assertTrue(Pattern.compile("^\\.version \\d+\\.\\d+$", Pattern.MULTILINE).matcher(ptx).find(), "has a .version line");
        assertTrue(ptx.contains(".address_size 64"));
        assertEquals(PtxKernels.KERNELS, PtxKernels.entries(ptx));
        for (String k : PtxKernels.KERNELS) assertTrue(ptx.contains(".visible .entry " + k + "("), k);
    }

    /** Every extern "C" __global__ of the source is in the PTX (so the committed PTX was rebuilt after an edit). */
    @Test void ptxMatchesTheCudaSource() throws IOException {
        Path cu = Path.of("src/main/cuda/jdiffusion_kernels.cu");
        String src = Files.readString(cu);
        Matcher m = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(").matcher(src);
        java.util.List<String> names = new java.util.ArrayList<>();
        while (m.find()) names.add(m.group(1));
        assertEquals(names, PtxKernels.entries(PtxKernels.ptx()), "run tools/build-ptx after editing " + cu);
    }

    /** ISA 8.0 (CUDA 12.0) at most, so that CUDA 12 drivers JIT it; tools/build-ptx lowers nvcc 13's 9.0. */
    @Test void ptxIsaIsOldEnoughForCuda12Drivers() {
        Matcher m = Pattern.compile("^\\.version (\\d+)\\.(\\d+)$", Pattern.MULTILINE).matcher(PtxKernels.ptx());
        assertTrue(m.find());
        int v = Integer.parseInt(m.group(1)) * 10 + Integer.parseInt(m.group(2));
        assertTrue(v <= 80, "PTX ISA " + m.group(1) + "." + m.group(2) + " is newer than 8.0");
    }

    /** Where the CUDA toolkit's ptxas is installed (the build machine; not CI), the PTX must assemble for sm_80. */
    @Test void ptxAssemblesWithPtxas(@TempDir Path dir) throws Exception {
        Path ptxas = java.util.stream.Stream.of(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                .filter(d -> !d.isBlank()).map(d -> Path.of(d, "ptxas")).filter(Files::isExecutable).findFirst()
                .orElse(Path.of("/usr/local/cuda/bin/ptxas"));
        assumeTrue(Files.isExecutable(ptxas), "no ptxas here (CUDA toolkit not installed)");
        Path ptx = dir.resolve("k.ptx");
        Files.writeString(ptx, PtxKernels.ptx());
        Process p = new ProcessBuilder(ptxas.toString(), "-arch=sm_80", "-o", dir.resolve("k.cubin").toString(), ptx.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        assertTrue(Files.size(dir.resolve("k.cubin")) > 0);
    }

    @Test void entriesParsesNames() {
        assertEquals(java.util.List.of("a", "b_2"), PtxKernels.entries(".visible .entry a(\n.param .u64 p)\n{}\n  .visible .entry b_2(\n)"));
    }
}

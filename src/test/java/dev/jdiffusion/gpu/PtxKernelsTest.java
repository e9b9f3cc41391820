package dev.jdiffusion.gpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test void entriesParsesNames() {
        assertEquals(java.util.List.of("a", "b_2"), PtxKernels.entries(".visible .entry a(\n.param .u64 p)\n{}\n  .visible .entry b_2(\n)"));
    }
}

package dev.jdiffusion.kernels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-ISA choices (KernelConfig) and that no micro-kernel shape or vector width changes a product's bits. */
class KernelConfigTest {

    @Test
    void registerCountFromArchitectureAndUseAvx() {
        assertEquals(32, KernelConfig.vectorRegisters("amd64", 3));
        assertEquals(16, KernelConfig.vectorRegisters("amd64", 2));
        assertEquals(16, KernelConfig.vectorRegisters("x86_64", 1));
        assertEquals(16, KernelConfig.vectorRegisters("amd64", -1));
        assertEquals(32, KernelConfig.vectorRegisters("aarch64", -1));
        assertEquals(16, KernelConfig.vectorRegisters("riscv64", -1));
    }

    @Test
    void shapeFitsTheRegisterFile() {
        for (int lanes : new int[] {4, 8, 16}) {
            int[] s = KernelConfig.shape(null, 16, lanes);
            // accumulators + B vectors + row broadcasts must fit the register file
            assertTrue(KernelConfig.registersNeeded(s[0], s[1]) <= 16, "shape " + s[0] + "x" + s[1] + " for 16 registers");
            int[] t = KernelConfig.shape("", 32, lanes);
            assertTrue(KernelConfig.registersNeeded(t[0], t[1]) <= 32, "shape " + t[0] + "x" + t[1] + " for 32 registers");
        }
        assertArrayEquals(new int[] {3, 3}, KernelConfig.shape(null, 16, 8));
        assertArrayEquals(new int[] {4, 3}, KernelConfig.shape(null, 32, 4));
        assertArrayEquals(new int[] {8, 2}, KernelConfig.shape(null, 32, 16));
        assertArrayEquals(new int[] {8, 2}, KernelConfig.shape(" 8X2 ", 32, 16));
        var e = assertThrows(IllegalArgumentException.class, () -> KernelConfig.shape("5x5", 32, 16));
        assertTrue(e.getMessage().contains("-Djdiffusion.microKernel=5x5"), e.getMessage());
    }

    @Test
    void blockOverridesAreWholeNumbersOrAnError() {
        assertEquals(96, KernelConfig.block("jdiffusion.gemmMc", null, 96));
        assertEquals(96, KernelConfig.block("jdiffusion.gemmMc", " ", 96));
        assertEquals(192, KernelConfig.block("jdiffusion.gemmMc", " 192 ", 96));
        for (String bad : new String[] {"big", "0", "-5", "1e3", "99999999999"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> KernelConfig.block("jdiffusion.gemmNc", bad, 3072));
            assertTrue(e.getMessage().contains("-Djdiffusion.gemmNc=" + bad), e.getMessage());
        }
    }

    @Test
    void runningConfigIsConsistent() {
        assertEquals(KernelConfig.SPECIES.length() * 32, KernelConfig.vectorBits());
        assertEquals(GemmKernel.NR, KernelConfig.MICRO_VECTORS * KernelConfig.LANES);
        assertEquals(0, KernelConfig.MC % GemmKernel.MR);
        assertEquals(0, KernelConfig.NC % GemmKernel.NR);
        assertEquals(0, KernelConfig.ATTENTION_KEYS % GemmKernel.MR);
        assertEquals(0, KernelConfig.ATTENTION_QUERIES % GemmKernel.NR);
        if (System.getProperty("os.arch").equals("amd64")) assertTrue(KernelConfig.useAvx() >= 0, "UseAVX not read from the VM");
        assertTrue(KernelConfig.describe().contains(KernelConfig.microKernel()));
    }

    /** Every shape's kernel equals one scalar fma chain per element over k ascending from zero, bit for bit. */
    @Test
    void everyMicroKernelIsTheSameFmaChain() {
        int L = KernelConfig.LANES, kc = 37;
        Random r = new Random(3);
        for (int kind = 0; kind < KernelConfig.SHAPES.length; kind++) {
            int[] s = KernelConfig.SHAPES[kind];
            int mr = s[0], nr = s[1] * L;
            float[] a = Ref.rand(r, mr * kc), b = Ref.rand(r, kc * nr), t = new float[mr * nr], want = new float[mr * nr];
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < nr; j++) {
                    float acc = 0f;
                    for (int k = 0; k < kc; k++) acc = Math.fma(b[k * nr + j], a[k * mr + i], acc);   // A k-interleaved
                    want[i * nr + j] = acc;
                }
            MicroKernels.run(kind, kc, a, 0, b, 0, t, 0, nr, false);
            assertArrayEquals(want, t, "micro-kernel " + mr + "x" + s[1]);
        }
    }

    /**
     * GEMM, linear, conv (direct and Winograd), GELU, SiLU, quick GELU and attention give the same bits under AVX2
     * (-XX:UseAVX=2) and 128-bit vectors (-XX:MaxVectorSize=16) as with the CPU's own vectors, each in a child JVM with
     * its own micro-kernel shape. The reference is a child too, so the test holds whatever flags this JVM runs with
     * (the suite is run under each width); this JVM's own products are compared where its config is the reference's.
     */
    @Test
    void productsBitIdenticalAcrossVectorWidths() throws Exception {
        Assumptions.assumeTrue(System.getProperty("os.arch").equals("amd64") && KernelConfig.useAvx() >= 2,
                "needs an x86 JVM with AVX2 to emulate the narrower ISAs");
        List<String> native_ = child(null);
        assertEquals(2, native_.size(), "child output " + native_);
        if (native_.get(0).equals(KernelConfig.describe())) assertEquals(native_.get(1), Probe.digest(), "this JVM's products");
        for (String flag : new String[] {"-XX:UseAVX=2", "-XX:MaxVectorSize=16"}) {
            List<String> out = child(flag);
            assertEquals(2, out.size(), "child output " + out);
            assertTrue(!out.get(0).equals(native_.get(0)), flag + " did not change the config: " + out.get(0));
            assertEquals(native_.get(1), out.get(1), "products under " + flag + " (" + out.get(0) + ") differ from " + native_.get(0));
        }
    }

    /** A child JVM running {@link Probe}, with one extra VM flag or none. */
    private static List<String> child(String flag) throws IOException, InterruptedException {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "--add-modules", "jdk.incubator.vector"));
        if (flag != null) cmd.add(flag);
        cmd.addAll(List.of("-Djdiffusion.threads=2", "-cp", System.getProperty("java.class.path"), Probe.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        List<String> lines = new ArrayList<>();
        for (String l : new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n"))
            if (!l.isBlank()) lines.add(l.trim());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), "child JVM failed: " + lines);
        return lines;
    }

    /** Child JVM entry: prints the config and a digest of the products' bits. */
    static final class Probe {
        public static void main(String[] args) {
            System.out.println(KernelConfig.describe());
            System.out.println(digest());
        }

        static String digest() {
            Random r = new Random(41);
            float[] a = Ref.rand(r, 131 * 300), b = Ref.rand(r, 300 * 203), c = new float[131 * 203];
            Gemm.sgemm(false, true, 131, 203, 300, 1f, a, 0, 300, b, 0, 300, 0f, c, 0, 203);
            Matrix m = GemmTest.matrix("F16", r, 70, 300, new float[70 * 300]);
            float[] bias = Ref.rand(r, 72), y = new float[131 * 70];
            Gemm.linear(a, 0, 131, m, bias, y, 0);
            float[] x = Ref.rand(r, 64 * 21 * 30), yc = new float[72 * 21 * 30], yw = new float[72 * 21 * 30];
            Matrix cw = GemmTest.matrix("F16", r, 72, 64 * 9, new float[72 * 64 * 9]);
            Conv2d.forward(x, 1, 64, 21, 30, cw, 3, 3, bias, 1, 1, yw);
            Conv2d.forward(x, 1, 64, 21, 30, cw, 3, 3, bias, 2, 1, yc);
            float[] g = Ref.rand(r, 5000);
            for (int i = 0; i < g.length; i++) g[i] *= 12f;
            Activations.gelu(g, 0, g.length);
            float[] si = Ref.rand(r, 5003), qg = Ref.rand(r, 5003);
            for (int i = 0; i < si.length; i++) { si[i] *= 200f; qg[i] *= 200f; }
            si[7] = Float.NaN; qg[9] = Float.NEGATIVE_INFINITY;
            Activations.silu(si, 0, si.length);
            Activations.quickGelu(qg, 0, qg.length);
            // attention with scores far below the row maxima (exp's clamp at -88), head sizes 40 and 41, causal or not
            float[] q = Ref.rand(r, 2 * 300 * 123), k = Ref.rand(r, 2 * 300 * 123), vv = Ref.rand(r, 2 * 300 * 123);
            float[] a40 = new float[2 * 300 * 120], a41 = new float[q.length];
            Attention.forward(q, k, vv, 2, 3, 300, 300, 40, false, 9f, a40);
            Attention.forward(q, k, vv, 2, 3, 300, 300, 41, true, 0.2f, a41);
            long h = 17;
            for (float[] v : new float[][] {c, y, yw, yc, g, si, qg, a40, a41})
                for (float f : v) h = h * 31 + Float.floatToRawIntBits(f);
            return Long.toHexString(h);
        }
    }

    /** The L2 cache size reported is the level-2 data or unified cache that sysfs lists, not the instruction cache. */
    @Test
    void l2CacheIsReadFromSysfs(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws java.io.IOException {
        String[][] caches = {{"1", "Data", "48K"}, {"1", "Instruction", "32K"}, {"2", "Unified", "1024K"}, {"3", "Unified", "32768K"}};
        for (int i = 0; i < caches.length; i++) {
            java.nio.file.Path d = java.nio.file.Files.createDirectories(dir.resolve("cache/index" + i));
            java.nio.file.Files.writeString(d.resolve("level"), caches[i][0] + "\n");
            java.nio.file.Files.writeString(d.resolve("type"), caches[i][1] + "\n");
            java.nio.file.Files.writeString(d.resolve("size"), caches[i][2] + "\n");
        }
        assertEquals(1024 * 1024, KernelConfig.l2Bytes(dir.resolve("cache")));
        assertEquals(-1, KernelConfig.l2Bytes(dir.resolve("absent")));
        assertEquals(0, KernelConfig.NC % GemmKernel.NR);
    }
}

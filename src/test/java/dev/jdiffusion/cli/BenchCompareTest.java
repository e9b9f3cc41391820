package dev.jdiffusion.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchCompareTest {
    private static String run(String vectors, int avx, String kernel, double unet, double conv, double fma) {
        return """
                {"unet_step_s": %s, "unet_gflops": %s, "vae_decode_s": 10.0, "vae_gflops": 100.0, "text_encoder_s": 0.1,
                 "text_encoder_gflops": 50.0, "total_s": 30.0, "peak_rss_bytes": 2000000000, "threads": 2, "cores": 2,
                 "vector_bits": %s, "cpu": "AMD EPYC", "width": 512, "height": 512, "decoder": "vae",
                 "machine": {"use_avx": %d, "jdk": "25", "kernels": {"micro_kernel": "%s"}},
                 "fma_loop_gflops": %s,
                 "ops": {"conv3x3": {"seconds": %s, "flops": 1000000000, "calls": 10, "gflops": 5.0}}}
                """.formatted(unet, 1000 / unet, vectors, avx, kernel, fma, conv);
    }

    @Test
    void sideBySideWithRatiosToTheFirst(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("avx512.json"), b = dir.resolve("avx2.json");
        Files.writeString(a, run("512", 3, "4x48", 4.0, 2.0, 384.0));
        Files.writeString(b, run("256", 2, "6x16", 6.0, 3.0, 192.0));
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc = BenchCommand.run(new String[] {"--compare", a.toString(), b.toString()}, new PrintStream(buf, true, StandardCharsets.UTF_8), System.err);
        String out = buf.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc);
        System.out.print(out);
        assertTrue(out.contains("avx512.json") && out.contains("avx2.json"), out);
        assertTrue(out.contains("512-bit, UseAVX 3") && out.contains("256-bit, UseAVX 2"), out);
        assertTrue(out.contains("4x48") && out.contains("6x16"), out);
        String unet = out.lines().filter(l -> l.startsWith("unet step")).findFirst().orElseThrow();
        assertTrue(unet.contains("4.000 s 250.0 1.00x") && unet.contains("6.000 s 166.7 1.50x"), unet);
        String conv = out.lines().filter(l -> l.startsWith("conv3x3")).findFirst().orElseThrow();
        assertTrue(conv.contains("1.50x"), conv);
        // the FMA loop each run measured, and its ratio to the first; no OpenBLAS line where no run has one
        String fma = out.lines().filter(l -> l.startsWith("FMA loop")).findFirst().orElseThrow();
        assertTrue(fma.contains("384.0 1.00x") && fma.contains("192.0 0.50x"), fma);
        assertTrue(out.lines().noneMatch(l -> l.startsWith("OpenBLAS")), out);
    }

    @Test
    void badFilesAreOneLineErrors(@TempDir Path dir) throws Exception {
        Path junk = dir.resolve("junk.json"), other = dir.resolve("other.json");
        Files.writeString(junk, "{not json");
        Files.writeString(other, "{\"x\": 1}");
        PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        for (List<String> args : List.of(List.of("--compare"), List.of("--compare", dir.resolve("missing.json").toString()),
                List.of("--compare", junk.toString()), List.of("--compare", other.toString()))) {
            UsageException e = assertThrows(UsageException.class, () -> BenchCommand.run(args.toArray(String[]::new), sink, sink));
            assertTrue(e.getMessage().startsWith("--compare") && !e.getMessage().contains("\n"), e.getMessage());
        }
    }
}

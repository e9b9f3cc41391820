package dev.jdiffusion.pipeline;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every CLI run is a cold run: a result must not depend on whether the JIT has compiled the kernels yet (no
 * reduction order, FMA contraction or vector/scalar tail that changes with the compiler), nor on the heap size.
 * Two fresh JVMs run {@link ColdRun}: one computes its outputs at once (interpreter and C1 code in the middle of
 * being replaced), the other after warm-up rounds (C2 code) with another -Xmx; the float bits must be equal.
 */
class ColdStartTest {
    private static List<String> run(String xmx, int warmups) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Xss8m", "-Xmx" + xmx, "-XX:+UseParallelGC", "-cp", System.getProperty("java.class.path"),
                ColdRun.class.getName(), Integer.toString(warmups)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "ColdRun did not finish");
        assertEquals(0, p.exitValue(), out);
        List<String> lines = out.lines().filter(l -> l.matches("\\S+ [0-9a-f]{64}")).toList();
        assertTrue(lines.size() >= 2, "ColdRun printed no results: " + out);
        return lines;
    }

    @Test
    void aColdRunEqualsAWarmRunBitForBit() throws Exception {
        List<String> cold = run("512m", 0), warm = run("3g", 3);
        System.out.println("cold JVM:  " + cold + "\nwarm JVM:  " + warm);
        assertEquals(cold, warm, "a fresh JVM computes other bits than a warmed-up one");
    }
}

package dev.jdiffusion.faults;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code jdiffusion generate} as a separate process: Ctrl-C (SIGINT) in the middle leaves no output and no temporary
 * file; the heap really running out ends it with one line and exit code 1.
 */
@EnabledOnOs({OS.LINUX, OS.MAC})
class InterruptTest {

    static List<String> cli(String xmx, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Xss8m", "-Xmx" + xmx, "-XX:+UseParallelGC", "-Djdiffusion.memoryCheck=false", "-cp", System.getProperty("java.class.path"),
                "dev.jdiffusion.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test void runningOutOfHeapIsOneLineAndExitCodeOne(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.png");
        // the estimate is switched off, so the run starts and the heap really runs out in the first step
        Process p = new ProcessBuilder(cli("96m", "generate", "-m", Tiny.sd1().toString(), "-p", "a", "-W", "2048", "-H", "2048",
                "--batch", "4", "--steps", "2", "--seed", "1", "-q", "-o", out.toString())).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        List<String> lines = text.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
        assertEquals(1, p.exitValue(), text);
        assertEquals(1, lines.size(), text);
        assertTrue(lines.get(0).startsWith("jdiffusion generate: out of memory generating 2048x2048, batch 4"), text);
        assertEquals(List.of(), Tiny.list(dir));
    }

    /**
     * Whether this process ignores SIGINT (a job started in the background by a non-interactive shell, or under
     * nohup-like wrappers): its children inherit that, and a JVM never handles a signal it inherited as ignored.
     */
    static boolean sigintIgnored() throws java.io.IOException {
        Path status = Path.of("/proc/self/status");
        if (!java.nio.file.Files.isReadable(status)) return false;
        for (String line : java.nio.file.Files.readAllLines(status))
            if (line.startsWith("SigIgn:")) return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & (1L << 1)) != 0; // bit of signal 2
        return false;
    }

    @Test void sigintDuringGenerationLeavesNothingBehind(@TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(sigintIgnored(),
                "this test process ignores SIGINT (started as a background job), so the child it starts cannot receive it");
        Path out = dir.resolve("out.png");
        List<String> cmd = cli("512m", "generate", "-m", Tiny.sd1().toString(), "-p", "a cabin in the snow", "-W", "64", "-H", "64",
                "--steps", "1000", "--seed", "1", "--threads", "1", "-o", out.toString());
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        StringBuilder log = new StringBuilder();
        boolean running = false;
        try (BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = err.readLine()) != null; ) {
                log.append(line).append('\n');
                if (line.startsWith("step 3/1000")) {
                    running = true;
                    break;
                }
            }
            assertTrue(running, "the generation did not start:\n" + log);
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).inheritIO().start();
            assertEquals(0, kill.waitFor());
            // keep draining so that the child never blocks on a full pipe
            Thread drain = Thread.ofVirtual().start(() -> err.lines().forEach(l -> {}));
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the process did not stop on SIGINT");
            drain.join(5000);
        } finally {
            p.destroyForcibly();
        }
        assertNotEquals(0, p.exitValue());
        assertEquals(List.of(), Tiny.list(dir), "an interrupted run left files");
    }
}

package dev.jdiffusion.faults;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ctrl-C (SIGINT) in the middle of {@code jdiffusion generate} leaves no output and no temporary file. */
@EnabledOnOs({OS.LINUX, OS.MAC})
class InterruptTest {

    @Test void sigintDuringGenerationLeavesNothingBehind(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.png");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Xss8m", "-Xmx512m", "-cp", System.getProperty("java.class.path"), "dev.jdiffusion.cli.Main",
                "generate", "-m", Tiny.sd1().toString(), "-p", "a cabin in the snow", "-W", "64", "-H", "64",
                "--steps", "1000", "--seed", "1", "--threads", "1", "-o", out.toString()));
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

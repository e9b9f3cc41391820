package dev.jdiffusion.gpu;

import dev.jdiffusion.cli.Main;
import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code --device} on generate and bench, on a machine without a usable GPU (the build machine, CI). */
class DeviceCliTest {
    static final String MODEL = Golden.resolve("models/tiny-sd1").toString();

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    static void assumeNoUsableGpu() {
        assumeTrue(!Device.select("auto").isCuda(), "a CUDA device is usable here");
    }

    @Test void generateDeviceCudaIsOneLineAndExit1(@TempDir Path dir) {
        assumeNoUsableGpu();
        Result r = run("generate", "-m", MODEL, "-p", "x", "-o", dir.resolve("o.png").toString(), "--device", "cuda");
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("jdiffusion generate: --device cuda: "), r.err());
        assertTrue(r.err().contains("no NVIDIA driver is installed") || r.err().contains("not found: looked for"), r.err());
        assertFalse(Files.exists(dir.resolve("o.png")));
        assertEquals("", r.out());
    }

    @Test void benchDeviceCudaIsOneLineAndExit1() {
        assumeNoUsableGpu();
        Result r = run("bench", "--model", MODEL, "--device", "cuda:0");
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("jdiffusion bench: --device cuda:0: "), r.err());
    }

    @Test void bogusDeviceIsAUsageError(@TempDir Path dir) {
        Result r = run("generate", "-m", MODEL, "-p", "x", "-o", dir.resolve("o.png").toString(), "--device", "bogus");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("jdiffusion generate: --device must be auto, cpu, cuda or cuda:N, got 'bogus'\nsee 'jdiffusion generate --help'"), r.err());
        Result b = run("bench", "--model", MODEL, "--device=gpu");
        assertEquals(2, b.code(), b.err());
        assertTrue(b.err().startsWith("jdiffusion bench: --device must be auto, cpu, cuda or cuda:N, got 'gpu'"), b.err());
    }

    @Test void autoRunsOnTheCpuWithOneNoteLine(@TempDir Path dir) {
        assumeNoUsableGpu();
        Path out = dir.resolve("o.png");
        Result r = run("generate", "-m", MODEL, "-p", "x", "--steps", "1", "-W", "32", "-H", "32", "--seed", "1", "-q",
                "-o", out.toString(), "--device", "auto");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(out));
        assertEquals(1, r.err().lines().filter(l -> l.contains("device")).count(), r.err());
        assertTrue(r.err().contains("jdiffusion generate: device auto: cpu, no usable CUDA device ("), r.err());
    }

    @Test void helpListsTheOption() {
        assertTrue(run("generate", "--help").out().contains("--device D"));
        assertTrue(run("bench", "--help").out().contains("--device D"));
    }
}

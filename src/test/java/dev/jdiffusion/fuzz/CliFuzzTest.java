package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jdiffusion.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes {@link Main#run} with argument arrays for the {@code info} command (paths to valid, fuzzed and
 * missing files, folders, options, arbitrary strings): the exit code is 0, 1 or 2 and nothing is thrown, and
 * (Jazzer's sanitizers) no network connection, command execution or deserialization happens.
 */
class CliFuzzTest {
    private static final Path DIR = Outcomes.tempDir("jd-fuzz-cli");
    private static final Path VALID = DIR.resolve("valid.safetensors");
    private static final Path FUZZED = DIR.resolve("fuzzed.safetensors");

    static {
        Outcomes.write(VALID, TinySafetensors.f32("w", 2, 2));
    }

    @FuzzTest(maxDuration = "30s")
    void info(FuzzedDataProvider in) {
        String[] args = new String[in.consumeInt(0, 4)];
        for (int i = 0; i < args.length; i++) {
            args[i] = switch (in.consumeInt(0, 9)) {
                case 0 -> "info";
                case 1 -> VALID.toString();
                case 2 -> FUZZED.toString();
                case 3 -> DIR.toString();
                case 4 -> in.pickValue(new String[]{"-h", "--help", "-", "--", "", "/nonexistent", "/dev/null", "/proc/self/status"});
                default -> in.consumeString(24);
            };
        }
        if (args.length > 0 && in.consumeBoolean()) args[0] = "info";
        // Only `info` (and junk that is no command) is fuzzed here: the others compute images or, for `pull`,
        // go to the network on purpose (Jazzer's SSRF detector flags that, correctly, as a connection).
        if (args.length > 0 && java.util.Set.of("generate", "bench", "vae", "pull").contains(args[0])) args[0] = "info";
        Outcomes.write(FUZZED, in.consumeRemainingAsBytes());
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int rc;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8); PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            rc = Main.run(args, out, err);
        }
        assertTrue(rc >= 0 && rc <= 2, "exit code " + rc);
        if (rc != 0) assertTrue(e.size() > 0, "a failing command says why on stderr");
    }

}

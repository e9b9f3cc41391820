package dev.jdiffusion.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The build's own commands, as a new user runs them: plain mvn on an older JDK, tools/test --help. */
class BuildToolsTest {
    static final Path ROOT = Path.of("").toAbsolutePath();

    record Run(int code, String output) {}

    static Run run(List<String> cmd, String javaHome) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true);
        pb.environment().remove("MAVEN_OPTS");
        if (javaHome != null) pb.environment().put("JAVA_HOME", javaHome);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + cmd);
        return new Run(p.exitValue(), out);
    }

    /** A JDK older than 25 on this machine (the system's JDK 17 here), if any. */
    static Optional<Path> olderJdk() throws IOException {
        Path jvm = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvm)) return Optional.empty();
        try (Stream<Path> s = Files.list(jvm)) {
            for (Path d : s.sorted().toList()) {
                Path release = d.resolve("release");
                if (!Files.isRegularFile(release) || !Files.isExecutable(d.resolve("bin/java"))) continue;
                String text = Files.readString(release);
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("JAVA_VERSION=\"(\\d+)").matcher(text);
                if (m.find() && Integer.parseInt(m.group(1)) < 25) return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":"))
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) return true;
        return false;
    }

    /** Plain mvn under an older JDK: Maven starts (nothing in .mvn/ it cannot read) and the build says what it needs. */
    @Test void plainMavenOnAnOlderJdkSaysWhatToUse() throws Exception {
        Optional<Path> old = olderJdk();
        assumeTrue(old.isPresent() && onPath("mvn"), "no JDK older than 25 or no mvn on this machine");
        Run r = run(List.of("mvn", "-B", "-o", "-N", "validate"), old.get().toString());
        assertFalse(r.output().contains("Unrecognized option"), r.output());
        assertTrue(r.code() != 0, "the build ran on " + old.get() + ":\n" + r.output());
        assertTrue(r.output().contains("jdiffusion needs JDK 25 or newer") && r.output().contains("tools/mvn"), r.output());
    }

    /**
     * tools/c2-asm on the FMA loop of {@link FmaPeak}: finds its C2 compilation, disassembles it and counts the hottest
     * loop's FMAs (14 chains, two steps per iteration, whatever C2's unrolling: a positive multiple of 28).
     */
    @Test void c2AsmCountsTheFmasOfTheFmaLoop() throws Exception {
        assumeTrue(onPath("python3") && onPath("objdump"), "tools/c2-asm needs python3 and objdump");
        Path classes = ROOT.resolve("target/classes");
        assumeTrue(Files.isRegularFile(classes.resolve("dev/jdiffusion/cli/FmaPeak.class")), "no target/classes");
        Run r = run(List.of("python3", "tools/c2-asm", "dev.jdiffusion.cli.FmaPeak::chains", "--", "--add-modules",
                "jdk.incubator.vector", "-cp", classes.toString(), "dev.jdiffusion.cli.FmaPeak", "1", "1"), null);
        assertEquals(0, r.code(), r.output());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("counts: fma (\\d+), ").matcher(r.output());
        assertTrue(m.find(), r.output());
        int fmas = Integer.parseInt(m.group(1));
        assertTrue(fmas > 0 && fmas % 28 == 0, "FMAs in the loop: " + fmas + "\n" + r.output());
        assertTrue(r.output().contains("vfmadd"), r.output());

        Run none = run(List.of("python3", "tools/c2-asm", "dev.jdiffusion.cli.FmaPeak::noSuchMethod", "--", "-version"), null);
        assertEquals(2, none.code(), none.output());
        assertTrue(none.output().contains("no C2 compilation of dev.jdiffusion.cli.FmaPeak::noSuchMethod"), none.output());
    }

    @Test void toolsTestHelpSaysHowToRunOneTestClass() throws Exception {
        Run r = run(List.of("bash", "tools/test", "--help"), null);
        assertEquals(0, r.code(), r.output());
        assertTrue(r.output().contains("tools/test -Dtest=GenerateCommandTest"), r.output());
        assertTrue(r.output().contains("tools/mvn"), r.output());
    }
}

package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The {@code ./jdiffusion} launcher as a user runs it: its stderr must carry the progress as it happens (to a pipe or
 * file, and on a terminal through a pty from {@code script}), without the JVM's incubator notice. The launcher runs
 * from a copy of itself whose jar is a manifest pointing at this build's classes (no Maven inside the test).
 */
class LauncherTest {
    @TempDir Path dir;

    /** A launcher root: the script, tools/find-jdk, and target/jdiffusion-all.jar naming the test class path. */
    Path launcherRoot() throws IOException {
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.createDirectories(root.resolve("tools"));
        Files.createDirectories(root.resolve("target"));
        for (String f : new String[]{"jdiffusion", "tools/find-jdk"}) {
            Files.copy(Path.of(f), root.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
            assertTrue(root.resolve(f).toFile().setExecutable(true));
        }
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        StringBuilder urls = new StringBuilder();
        for (String e : cp.split(File.pathSeparator)) {
            if (e.isBlank()) continue;
            if (urls.length() > 0) urls.append(' ');
            urls.append(Path.of(e).toAbsolutePath().toUri());
        }
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        m.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "dev.jdiffusion.cli.Main");
        m.getMainAttributes().put(Attributes.Name.CLASS_PATH, urls.toString());
        try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(root.resolve("target/jdiffusion-all.jar")), m)) {
            j.flush();
        }
        return root;
    }

    /** One read of the child's output, with when it came (seconds since start). */
    record Chunk(double at, String text) {}

    static List<Chunk> readTimed(InputStream in, long t0) throws IOException {
        List<Chunk> out = new ArrayList<>();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) out.add(new Chunk((System.nanoTime() - t0) / 1e9, new String(buf, 0, n, StandardCharsets.UTF_8)));
        return out;
    }

    static final Pattern STEP = Pattern.compile("(\\d+)/(\\d+)\\s+([0-9.]+)s elapsed");

    /**
     * Asserts the progress came as it happened: the time between the arrival of the first and the last step's report
     * is at least half of the time between them that the reports themselves state (a buffering filter delivers
     * them all at once, at exit).
     */
    static void assertLive(List<Chunk> chunks, String all) {
        // a report may be split over reads: match in the whole text, and date each match by the read that ended it
        double firstAt = -1, lastAt = -1, firstEl = -1, lastEl = -1;
        Matcher m = STEP.matcher(all);
        while (m.find()) {
            double at = arrival(chunks, m.end()), el = Double.parseDouble(m.group(3));
            if (firstAt < 0) {
                firstAt = at;
                firstEl = el;
            }
            lastAt = at;
            lastEl = el;
        }
        assertTrue(firstAt >= 0, "no progress in: " + all);
        assertTrue(lastEl - firstEl > 0.2, "the steps ran too fast to tell (" + (lastEl - firstEl) + " s): " + all);
        assertTrue(lastAt - firstAt >= 0.5 * (lastEl - firstEl), String.format(
                "progress held back: the steps span %.2f s but their reports arrived within %.2f s%n%s", lastEl - firstEl, lastAt - firstAt, all));
    }

    /** When the character at offset end - 1 of the joined chunks arrived. */
    static double arrival(List<Chunk> chunks, int end) {
        int offset = 0;
        for (Chunk c : chunks) {
            offset += c.text().length();
            if (offset >= end) return c.at();
        }
        throw new AssertionError("offset " + end + " past the output");
    }

    List<String> generate(Path root, Path out) {
        return List.of(root.resolve("jdiffusion").toString(), "generate", "-m", Golden.resolve("models/tiny-sd1").toString(),
                "-p", "a cabin in the snow", "-W", "256", "-H", "256", "--steps", "8", "--sampler", "euler", "--seed", "1",
                "--threads", "1", "-o", out.toString());
    }

    /** Runs the launcher, reading its stderr (or the pty's output) as it comes; exit 0 and no incubator notice. */
    static List<Chunk> runTimed(ProcessBuilder pb, boolean stderr) throws Exception {
        long t0 = System.nanoTime();
        Process p = pb.start();
        p.getOutputStream().close();
        List<Chunk> chunks = readTimed(stderr ? p.getErrorStream() : p.getInputStream(), t0);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        String all = joined(chunks);
        assertEquals(0, p.exitValue(), all);
        assertFalse(all.contains("WARNING: Using incubator modules"), all);
        return chunks;
    }

    static String joined(List<Chunk> chunks) { return String.join("", chunks.stream().map(Chunk::text).toList()); }

    @Test void progressReachesAPipeAsItHappensWithoutTheIncubatorNotice() throws Exception {
        Path root = launcherRoot(), out = dir.resolve("out.png");
        List<Chunk> chunks = runTimed(new ProcessBuilder(generate(root, out)).redirectOutput(ProcessBuilder.Redirect.DISCARD), true);
        String all = joined(chunks);
        assertTrue(all.startsWith("step 1/8"), "a log starts with the first step (the incubator notice dropped): " + all);
        assertFalse(all.contains("\r"), "a pipe gets plain lines, not the terminal bar: " + all);
        assertLive(chunks, all);
        // the launched process's PNG has the mode a plain file gets under the umask it inherited
        assertEquals(Files.getPosixFilePermissions(Files.createFile(dir.resolve("plain"))), Files.getPosixFilePermissions(out));
    }

    @Test void onATerminalTheBarRedrawsLive() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "no script(1) to give the launcher a terminal");
        Path root = launcherRoot(), out = dir.resolve("tty.png");
        StringBuilder cmd = new StringBuilder("exec");
        for (String a : generate(root, out)) cmd.append(" '").append(a.replace("'", "'\\''")).append('\'');
        cmd.append(" >/dev/null"); // stdout away from the terminal: the bar is decided by stderr alone
        List<Chunk> chunks = runTimed(new ProcessBuilder("/usr/bin/script", "-qfec", cmd.toString(), "/dev/null").redirectErrorStream(true), false);
        String all = joined(chunks);
        assertTrue(all.contains("jdiffusion generate: loading ") && all.contains("U-Net, text encoder, VAE"), all);
        assertTrue(all.contains("\r[#"), "no redrawn bar on a terminal: " + all);
        assertLive(chunks, all);
    }
}

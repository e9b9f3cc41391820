package dev.jdiffusion.examples;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * examples/embed builds against the engine by its Maven coordinates and runs with the README's JVM flags: the engine
 * (this build's classes) goes into the local Maven repository under a version of its own (removed afterwards, so
 * nothing a user installed is touched), the example is built offline from it, and its jar generates an image of
 * the tiny golden model.
 */
class EmbeddingExampleTest {

    static Path root() { return Path.of(System.getProperty("user.dir")); }

    @Test void theExampleBuildsFromTheEngineCoordinatesAndGenerates(@TempDir Path dir) throws Exception {
        Path example = root().resolve("examples/embed");
        assertTrue(Files.isRegularFile(example.resolve("pom.xml")), "no examples/embed/pom.xml");
        String version = "0.0.0-test-" + UUID.randomUUID().toString().substring(0, 8);
        Path repo = localRepository();
        Path installed = repo.resolve("dev/jdiffusion/jdiffusion").resolve(version);
        try {
            // the engine as `mvn install` would put it: jar of target/classes, pom with this version
            Files.createDirectories(installed);
            jar(classes(), installed.resolve("jdiffusion-" + version + ".jar"));
            String pom = Files.readString(root().resolve("pom.xml")).replaceFirst("<version>[^<]*</version>", "<version>" + version + "</version>");
            Files.writeString(installed.resolve("jdiffusion-" + version + ".pom"), pom);

            Path src = copy(example, dir.resolve("embed"));
            run(src, 300, mvn(), "-B", "-q", "-o", "-Dmaven.repo.local=" + repo, "-Djdiffusion.version=" + version, "package");
            Path jar = src.resolve("target/embed.jar");
            assertTrue(Files.isRegularFile(jar), "no " + jar);

            // the README's command: the two module flags, nothing else
            Path out = dir.resolve("out.png");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String log = run(dir, 120, java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-jar", jar.toString(),
                    Golden.resolve("models/tiny-sd1").toString(), "a cabin in the snow", out.toString(), "64", "2");
            assertTrue(log.contains("step 2/2") && log.contains("wrote"), log);
            Tensor img = Images.read(out);
            assertEquals(64, img.dim(2));
            assertEquals(64, img.dim(3));
        } finally {
            deleteTree(installed);
        }
    }

    static Path localRepository() {
        String p = System.getProperty("maven.repo.local");
        return p != null && !p.isBlank() ? Path.of(p) : Path.of(System.getProperty("user.home"), ".m2", "repository");
    }

    /** tools/mvn: Maven with a JDK 25. */
    static String mvn() { return root().resolve("tools/mvn").toString(); }

    static Path classes() throws Exception {
        return Path.of(dev.jdiffusion.pipeline.StableDiffusion.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    static void jar(Path dir, Path target) throws IOException {
        try (OutputStream o = Files.newOutputStream(target); JarOutputStream j = new JarOutputStream(o); Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                j.putNextEntry(new JarEntry(dir.relativize(p).toString().replace('\\', '/')));
                Files.copy(p, j);
                j.closeEntry();
            }
        }
    }

    static Path copy(Path src, Path dst) throws IOException {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path rel = src.relativize(p);
                if (rel.toString().startsWith("target")) continue;
                Path t = dst.resolve(rel.toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return dst;
    }

    static String run(Path dir, int seconds, String... cmd) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(cmd))).directory(dir.toFile()).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(seconds, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish:\n" + text);
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + text);
        return text;
    }

    static void deleteTree(Path d) throws IOException {
        if (!Files.exists(d)) return;
        try (Stream<Path> s = Files.walk(d)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}

package dev.jdiffusion.module;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The named module {@code dev.jdiffusion}: every package of the jar is either exported (public API) or listed here
 * as internal, so a new package is a decision, not an accident; the module resolves with its dependencies; and a
 * generation runs on the module path (the other tests run on the class path).
 */
class ModuleTest {
    /** Packages that are not API. A new package goes here or into module-info.java's exports. */
    static final Set<String> INTERNAL = Set.of(
            "dev.jdiffusion.cli", "dev.jdiffusion.gpu", "dev.jdiffusion.hub", "dev.jdiffusion.io", "dev.jdiffusion.kernels",
            "dev.jdiffusion.lora", "dev.jdiffusion.model.clip", "dev.jdiffusion.model.taesd", "dev.jdiffusion.model.unet",
            "dev.jdiffusion.model.vae", "dev.jdiffusion.model.controlnet", "dev.jdiffusion.pipeline.prompt", "dev.jdiffusion.server");

    static ModuleDescriptor descriptor() throws Exception {
        Path info = classes().resolve("module-info.class");
        if (!Files.isRegularFile(info)) fail("no " + info + ": src/main/java/module-info.java is missing");
        try (InputStream in = Files.newInputStream(info)) {
            return ModuleDescriptor.read(in, ModuleTest::packagesWithClasses);
        }
    }

    /** The packages that hold classes under target/classes. */
    static Set<String> packagesWithClasses() {
        Set<String> packages = new TreeSet<>();
        try {
            Path root = classes();
            try (Stream<Path> s = Files.walk(root)) {
                s.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().equals("module-info.class"))
                        .forEach(p -> packages.add(root.relativize(p.getParent()).toString().replace('/', '.').replace('\\', '.')));
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return packages;
    }

    /** The folder the main classes were compiled to (target/classes). */
    static Path classes() throws Exception {
        return Path.of(dev.jdiffusion.pipeline.StableDiffusion.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    @Test void everyPackageIsExportedOrDeclaredInternal() throws Exception {
        ModuleDescriptor d = descriptor();
        assertEquals("dev.jdiffusion", d.name());
        Set<String> exported = d.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toCollection(TreeSet::new));
        Set<String> packages = packagesWithClasses();
        assertTrue(packages.size() > 5, "no classes found under " + classes());
        List<String> problems = new ArrayList<>();
        for (String p : packages) {
            boolean api = exported.contains(p), internal = INTERNAL.contains(p);
            if (api == internal)
                problems.add(p + (api ? ": both exported and listed internal" : ": a new package; export it in src/main/java/module-info.java "
                        + "(public API, then Javadoc every public type) or add it to ModuleTest.INTERNAL"));
        }
        for (String e : exported) if (!packages.contains(e)) problems.add(e + ": exported but has no classes");
        if (!problems.isEmpty()) fail(String.join("\n", problems));
        assertTrue(d.requires().stream().anyMatch(r -> r.name().equals("jdk.incubator.vector")), "requires jdk.incubator.vector");
    }

    /** The module resolves against the JDK and the runtime dependencies found beside it (Jackson). */
    @Test void theModuleResolvesWithItsDependencies() throws Exception {
        ModuleFinder finder = ModuleFinder.of(modulePath().toArray(Path[]::new));
        Configuration cf = ModuleLayer.boot().configuration().resolve(finder, ModuleFinder.of(), Set.of("dev.jdiffusion"));
        assertTrue(cf.findModule("com.fasterxml.jackson.databind").isPresent());
    }

    /** target/classes and the jars of the runtime dependencies (the Jackson jars on the test class path). */
    static List<Path> modulePath() throws Exception {
        List<Path> mp = new ArrayList<>(List.of(classes()));
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            if (e.contains("jackson-")) mp.add(Path.of(e));
        return mp;
    }

    /** A tiny generation with the engine on the module path: the Vector API and FFM as a named module uses them. */
    @Test void generatesOnTheModulePath(@TempDir Path dir) throws Exception {
        String javaExe = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String mp = modulePath().stream().map(Path::toString).collect(Collectors.joining(java.io.File.pathSeparator));
        Path out = dir.resolve("out.png");
        // no --add-modules: the module's requires resolves jdk.incubator.vector
        Process p = new ProcessBuilder(javaExe, "--enable-native-access=dev.jdiffusion", "-Xss8m", "-Xmx512m", "--module-path", mp,
                "-m", "dev.jdiffusion/dev.jdiffusion.cli.Main", "generate", "-m", Golden.resolve("models/tiny-sd1").toString(),
                "-p", "a cabin", "-W", "64", "-H", "64", "--steps", "1", "--seed", "1", "-q", "-o", out.toString())
                .redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), text);
        assertTrue(Files.size(out) > 100, text);
    }
}

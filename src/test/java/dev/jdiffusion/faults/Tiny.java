package dev.jdiffusion.faults;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The tiny golden model and small helpers for the fault tests. */
final class Tiny {
    private Tiny() {}

    static Path sd1() { return Golden.resolve("models/tiny-sd1"); }

    /** A small text-to-image request: 64x64, 3 steps. */
    static GenerationRequest.Builder small(long seed) {
        return GenerationRequest.builder("a cabin in the snow").size(64, 64).steps(3).seed(seed);
    }

    static boolean same(Tensor a, Tensor b) { return java.util.Arrays.equals(a.data(), b.data()); }

    /** A real copy (not links) of a folder tree. */
    static Path copyTree(Path src, Path dst) throws IOException {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
        return dst;
    }

    static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    record Result(int code, String out, String err) {}

    /** Runs the CLI in this JVM. */
    static Result cli(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = dev.jdiffusion.cli.Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }
}

package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Access to the golden reference set: its folder comes from {@code GOLDEN_DIR}, else {@code ../shared/golden}.
 * Comparisons check every element and print the max error.
 */
public final class Golden {
    private Golden() {}

    public static final ObjectMapper JSON = new ObjectMapper();

    /** The golden set's root folder. */
    public static Path dir() {
        String env = System.getenv("GOLDEN_DIR");
        Path p = (env != null && !env.isBlank()) ? Path.of(env) : Path.of("..", "shared", "golden");
        return p.toAbsolutePath().normalize();
    }

    /**
     * Every case folder (holding info.json) under cases/, sorted, except the cases pending a feature (see
     * {@link #pendingReason}). Every test that walks the golden cases uses this list.
     */
    public static List<Path> caseDirs() {
        return allCaseDirs().stream().filter(d -> pendingReason(d).isEmpty()).toList();
    }

    /** Every case folder, pending ones included: only GoldenCasesTest, which checks that pending cases still fail. */
    public static List<Path> allCaseDirs() {
        Path cases = dir().resolve("cases");
        if (!Files.isDirectory(cases)) fail("golden set not found at " + cases + " (set GOLDEN_DIR)");
        try (Stream<Path> s = Files.list(cases)) {
            return s.filter(d -> Files.isRegularFile(d.resolve("info.json"))).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The feature a case waits for, from the test tree's pending list (dev/jdiffusion/golden/pending.txt), if any. */
    public static java.util.Optional<String> pendingReason(Path caseDir) {
        return java.util.Optional.ofNullable(Pending.LIST.get(caseDir.getFileName().toString()));
    }

    private static final class Pending {
        static final java.util.Map<String, String> LIST = load();

        private static java.util.Map<String, String> load() {
            java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
            try (var in = Golden.class.getResourceAsStream("pending.txt")) {
                if (in == null) throw new IllegalStateException("dev/jdiffusion/golden/pending.txt is missing from the test resources");
                for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                    String l = line.strip();
                    if (l.isEmpty() || l.startsWith("#")) continue;
                    String[] parts = l.split("\\s+", 2);
                    if (parts.length < 2) throw new IllegalStateException("pending.txt: no feature named for case '" + parts[0] + "'");
                    if (m.put(parts[0], parts[1]) != null) throw new IllegalStateException("pending.txt: case '" + parts[0] + "' listed twice");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return java.util.Collections.unmodifiableMap(m);
        }
    }

    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A path the golden files name relative to the golden root (e.g. "models/tiny-sd1"). */
    public static Path resolve(String relative) { return dir().resolve(relative); }

    public static SafetensorsFile open(Path file) { return SafetensorsFile.open(file); }

    /** Shape of a tensor as ints. */
    public static int[] shape(TensorView t) {
        long[] s = t.shape();
        int[] r = new int[s.length];
        for (int i = 0; i < s.length; i++) r[i] = Math.toIntExact(s[i]);
        return r;
    }

    /**
     * Asserts |expected[i] - actual[i]| <= tol for every element (NaN never passes), prints the max error,
     * and returns it.
     */
    public static double compare(String label, float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, label + ": element count");
        double max = 0;
        int worst = -1, bad = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) expected[i] - actual[i]);
            if (!(d <= tol)) bad++;
            if (!(d <= max)) {
                max = d;
                worst = i;
            }
        }
        System.out.printf("golden %-48s max abs err %.3e (tol %.0e) over %d elements%n", label, max, tol, expected.length);
        if (bad > 0)
            fail(String.format("%s: %d of %d elements off by more than %.1e; max %.3e at %d (expected %s, got %s)",
                    label, bad, expected.length, tol, max, worst, expected[worst], actual[worst]));
        return max;
    }

    /** Exact comparison of integer sequences. */
    public static void compareExact(String label, long[] expected, long[] actual) {
        assertEquals(expected.length, actual.length, label + ": length");
        List<Integer> diff = new ArrayList<>();
        for (int i = 0; i < expected.length; i++) if (expected[i] != actual[i]) diff.add(i);
        System.out.printf("golden %-48s %s over %d values%n", label, diff.isEmpty() ? "exact" : diff.size() + " differ", expected.length);
        if (!diff.isEmpty()) {
            int i = diff.get(0);
            fail(label + ": " + diff.size() + " values differ; first at " + i + " (expected " + expected[i] + ", got " + actual[i] + ")");
        }
    }
}

package dev.jdiffusion.fuzz;

import dev.jdiffusion.weights.ModelFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The fuzz tests' contract: a target either returns a result or throws one of the documented exceptions
 * with a message. Anything else (another exception type, an error, a blank message) is a finding.
 */
final class Outcomes {
    private Outcomes() {}

    /**
     * Slower than this per input counts as a hang. Inputs are at most a few KiB and take milliseconds; the margin
     * covers a cold JIT on a loaded 2-core machine (5 s gave a false alarm on the very first input).
     */
    static final long MAX_MILLIS = 15_000;

    /**
     * Fuzzer bytes as text: first byte 0 (or no byte) = the rest as UTF-8 (readable seeds: a 0 byte, then the prompt),
     * odd = the rest as UTF-16LE (reaches every char, lone surrogates included), other = ISO-8859-1.
     */
    static String text(byte[] in) {
        if (in.length == 0) return "";
        byte[] rest = java.util.Arrays.copyOfRange(in, 1, in.length);
        if (in[0] == 0) return new String(rest, java.nio.charset.StandardCharsets.UTF_8);
        if ((in[0] & 1) == 1) return new String(rest, java.nio.charset.StandardCharsets.UTF_16LE);
        return new String(rest, java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /** Runs body; swallows a documented exception with a clear message, rethrows everything else. */
    static void expectResultOrDocumented(Runnable body, Class<?>... documented) {
        long t0 = System.nanoTime();
        try {
            body.run();
            checkTime(t0);
        } catch (RuntimeException e) {
            checkTime(t0);
            boolean ok = false;
            for (Class<?> c : documented) ok |= c.isInstance(e);
            if (!ok) throw e;
            if (e.getMessage() == null || e.getMessage().isBlank())
                throw new AssertionError("documented exception without a message", e);
        }
    }

    private static void checkTime(long t0) {
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (ms > MAX_MILLIS) throw new AssertionError("one input took " + ms + " ms (limit " + MAX_MILLIS + "): a hang?");
    }

    /** The usual set for model files: ModelFormatException only. */
    static void expectResultOrModelFormat(Runnable body) {
        expectResultOrDocumented(body, ModelFormatException.class);
    }

    static Path tempDir(String prefix) {
        try {
            Path d = Files.createTempDirectory(prefix);
            d.toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path p, byte[] bytes) {
        try {
            Files.write(p, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Empties a folder (the fuzz targets reuse one folder per JVM to keep executions fast). */
    static void clear(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

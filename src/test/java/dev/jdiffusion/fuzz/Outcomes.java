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
        expectResultOrDocumented(MAX_MILLIS, body, documented);
    }

    /**
     * As above with a hang limit: body runs on a watchdogged daemon thread, so an input that never finishes (an
     * endless loop) trips the limit too, with the stuck thread's stack in the failure; it is then interrupted.
     */
    static void expectResultOrDocumented(long limitMillis, Runnable body, Class<?>... documented) {
        java.util.concurrent.FutureTask<Void> task = new java.util.concurrent.FutureTask<>(body, null);
        Thread worker = new Thread(task, "fuzz-input");
        worker.setDaemon(true);
        worker.start();
        try {
            task.get(limitMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            AssertionError hang = new AssertionError("one input ran past " + limitMillis + " ms: a hang (stack of the stuck thread attached)");
            Throwable where = new Throwable("fuzz-input thread");
            where.setStackTrace(worker.getStackTrace());
            hang.initCause(where);
            worker.interrupt();
            throw hang;
        } catch (InterruptedException e) {
            worker.interrupt();
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            if (!(c instanceof RuntimeException re)) {
                if (c instanceof Error err) throw err;
                throw new AssertionError(c);
            }
            boolean ok = false;
            for (Class<?> k : documented) ok |= k.isInstance(re);
            if (!ok) throw re;
            if (re.getMessage() == null || re.getMessage().isBlank())
                throw new AssertionError("documented exception without a message", re);
        }
    }

    /** The usual set for model files: ModelFormatException only. */
    static void expectResultOrModelFormat(Runnable body) {
        expectResultOrDocumented(body, ModelFormatException.class);
    }

    /**
     * A new folder under the system's temporary folder, removed with what is in it when the JVM exits (deleteOnExit
     * alone removes only an empty folder: every test JVM left its five fuzz folders behind, files in them).
     */
    static Path tempDir(String prefix) {
        try {
            Path d = Files.createTempDirectory(prefix);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    clear(d);
                    Files.deleteIfExists(d);
                } catch (IOException | UncheckedIOException e) {
                    System.err.println("could not remove " + d + ": " + e);
                }
            }));
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

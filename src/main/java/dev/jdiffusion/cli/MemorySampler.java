package dev.jdiffusion.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Samples this process's resident set split into anonymous memory (Java heap, JVM internals; shared memory counted
 * here too, as ZGC maps its heap that way) and mapped file pages (the weights) from {@code /proc/self/status} every
 * 50 ms, keeping the peak of each (the two peaks need not coincide; VmHWM gives the peak of their sum). Reports -1
 * where /proc is absent.
 */
final class MemorySampler {
    /** Peak sampled RssAnon and RssFile in bytes (-1 when unknown). */
    record Peaks(long anon, long file) {}

    private final Thread thread;
    private volatile boolean running = true, paused;
    private volatile long anon = -1, file = -1;

    private MemorySampler() {
        thread = Thread.ofPlatform().daemon().name("jdiffusion-rss-sampler").unstarted(this::loop);
    }

    static MemorySampler start() {
        MemorySampler m = new MemorySampler();
        m.sample();
        m.thread.start();
        return m;
    }

    private void loop() {
        while (running) {
            if (!paused) sample();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void sample() {
        try {
            long a = 0, f = -1;
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("RssAnon:") || l.startsWith("RssShmem:")) a += kib(l);
                else if (l.startsWith("RssFile:")) f = kib(l);
            }
            if (f < 0) return;
            anon = Math.max(anon, a);
            file = Math.max(file, f);
        } catch (IOException | RuntimeException e) {
            running = false;
        }
    }

    private static long kib(String line) { return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024; }

    /**
     * Takes a sample, then none until {@link #resume}: for work between measured runs that is no part of them (bench's
     * references, OpenBLAS's 48 MB of matrices among them).
     */
    void pause() {
        sample();
        paused = true;
    }

    void resume() { paused = false; }

    /** Stops sampling (after one last sample) and returns the peaks. */
    Peaks stop() {
        sample();
        running = false;
        thread.interrupt();
        return new Peaks(anon, file);
    }
}

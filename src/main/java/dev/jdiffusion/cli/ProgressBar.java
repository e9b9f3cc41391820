package dev.jdiffusion.cli;

import dev.jdiffusion.pipeline.ProgressEvent;

import java.io.PrintStream;
import java.util.Locale;

/** Step progress: a redrawn bar on a terminal, one plain line per step otherwise. */
final class ProgressBar {
    private final PrintStream err;
    private final boolean terminal, quiet;
    private boolean drawn;

    ProgressBar(PrintStream err, boolean terminal, boolean quiet) {
        this.err = err;
        this.terminal = terminal;
        this.quiet = quiet;
    }

    /**
     * True when stderr is a terminal: the launcher says so ({@code -Djdiffusion.stderr.tty}, from {@code [ -t 2 ]});
     * without it, the JVM's console (stdin and stdout on a terminal) is the best guess.
     */
    static boolean terminal() {
        String p = System.getProperty("jdiffusion.stderr.tty");
        if (p != null) return Boolean.parseBoolean(p);
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    void onStep(ProgressEvent e) {
        if (quiet) return;
        double el = e.elapsed().toNanos() / 1e9, rem = e.remaining().toNanos() / 1e9;
        if (terminal) {
            int width = 30, filled = (int) Math.round(width * (double) e.step() / e.total());
            err.printf(Locale.ROOT, "\r[%s%s] %d/%d  %.1fs elapsed, %.1fs left  ", "#".repeat(filled), " ".repeat(width - filled),
                    e.step(), e.total(), el, rem);
            err.flush();
            drawn = true;
        } else {
            err.printf(Locale.ROOT, "step %d/%d  %.1fs elapsed, %.1fs left%n", e.step(), e.total(), el, rem);
        }
    }

    void done() {
        if (drawn) err.println();
    }
}

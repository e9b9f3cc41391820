package dev.jdiffusion.hub;

import java.io.PrintStream;

/** Reports download progress: a redrawn bar on a terminal, plain lines otherwise. */
public interface Progress {
    /** A file starts (resumeFrom &gt; 0 when a partial download is continued); total is -1 when unknown. */
    void start(String path, long resumeFrom, long total);

    /** done bytes of the current file are on disk. */
    void advance(long done);

    /** The current file is complete and verified. */
    void finish(String path, long size);

    /** Nothing is printed. */
    Progress SILENT = new Progress() {
        @Override public void start(String path, long resumeFrom, long total) {}
        @Override public void advance(long done) {}
        @Override public void finish(String path, long size) {}
    };

    /** A bar redrawn in place with carriage returns, at most every 100 ms. */
    static Progress bar(PrintStream out) {
        return new Progress() {
            String path;
            long total, last, started, from;

            @Override public void start(String p, long resumeFrom, long t) {
                path = p;
                total = t;
                from = resumeFrom;
                started = System.nanoTime();
                last = 0;
                advance(resumeFrom);
            }

            @Override public void advance(long done) {
                long now = System.nanoTime();
                if (now - last < 100_000_000L && done != total) return;
                last = now;
                int width = 30;
                int fill = total > 0 ? (int) Math.min(width, done * width / total) : 0;
                double secs = Math.max(1e-3, (now - started) / 1e9);
                String pct = total > 0 ? String.format("%3d%%", done * 100 / total) : "  ?%";
                out.printf("\r%-40s [%s%s] %s %s %s/s   ", shorten(path), "#".repeat(fill), " ".repeat(width - fill), pct,
                        human(done), human((long) ((done - from) / secs)));
                out.flush();
            }

            @Override public void finish(String p, long size) {
                out.printf("\r%-40s [%s] 100%% %s   %n", shorten(p), "#".repeat(30), human(size));
            }
        };
    }

    /** One line when a file starts and one when it is done. */
    static Progress lines(PrintStream out) {
        return new Progress() {
            @Override public void start(String path, long resumeFrom, long total) {
                out.println("  fetching " + path + (total >= 0 ? " (" + human(total) + ")" : "")
                        + (resumeFrom > 0 ? ", resuming at " + human(resumeFrom) : ""));
            }
            @Override public void advance(long done) {}
            @Override public void finish(String path, long size) { out.println("  done     " + path + " (" + human(size) + ", verified)"); }
        };
    }

    private static String shorten(String p) { return p.length() <= 40 ? p : "..." + p.substring(p.length() - 37); }

    /** Bytes as B, KiB, MiB or GiB. */
    public static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] u = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int i = -1;
        do {
            v /= 1024;
            i++;
        } while (v >= 1024 && i < u.length - 1);
        return String.format("%.1f %s", v, u[i]);
    }
}

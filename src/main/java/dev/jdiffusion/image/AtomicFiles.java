package dev.jdiffusion.image;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes a file through a temporary sibling that is renamed over the target once complete, so readers never see a
 * half-written file and a failure (an I/O error, a full disk) leaves nothing behind: neither the target nor the
 * temporary; an existing target stays as it was. Errors name the file and say what is wrong, in one line.
 * The temporaries being written are tracked so that a shutdown hook can delete them when the process is interrupted
 * ({@link #deleteInFlight()}).
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    private static final Set<Path> IN_FLIGHT = ConcurrentHashMap.newKeySet();
    private static final Object LOCK = new Object();
    private static boolean shuttingDown;

    /**
     * For the process's shutdown hook: refuses every later write and deletes the temporaries being written, so an
     * interrupted process leaves neither a partial file nor a temporary. Returns how many were deleted.
     */
    public static int shutdown() {
        synchronized (LOCK) {
            shuttingDown = true;
        }
        return deleteInFlight();
    }

    /** The temporaries being written now. */
    public static Set<Path> inFlight() { return Set.copyOf(IN_FLIGHT); }

    /**
     * Deletes every temporary being written now (for a shutdown hook: an interrupted process leaves no partial
     * file); returns how many were deleted.
     */
    public static int deleteInFlight() {
        int n = 0;
        for (Path p : IN_FLIGHT) {
            try {
                if (Files.deleteIfExists(p)) n++;
            } catch (IOException ignored) {
                // best effort while the JVM shuts down
            }
            IN_FLIGHT.remove(p);
        }
        return n;
    }

    /** Writes into a path. */
    @FunctionalInterface
    public interface Writer {
        void writeTo(Path tmp) throws IOException;
    }

    /** Runs body on a temporary file next to target, then renames it to target; deletes the temporary on failure. */
    public static void write(Path target, Writer body) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (Files.isDirectory(abs)) throw new IOException("cannot write " + target + ": it is a folder");
        if (dir == null || !Files.isDirectory(dir)) throw new NoSuchFileException(target.toString(), null, "cannot write: folder " + dir + " does not exist");
        if (!Files.isWritable(dir)) throw new AccessDeniedException(target.toString(), null, "cannot write: folder " + dir + " is not writable");
        Path tmp;
        synchronized (LOCK) { // a temporary is either tracked before the shutdown hook looks, or never created
            if (shuttingDown) throw new IOException("cannot write " + target + ": the process is shutting down");
            try {
                tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            } catch (IOException e) {
                throw new IOException("cannot write " + target + ": " + e.getMessage(), e);
            }
            IN_FLIGHT.add(tmp);
        }
        boolean ok = false;
        try {
            body.writeTo(tmp);
            moveInto(tmp, abs);
            ok = true;
        } catch (IOException | UncheckedIOException e) {
            throw new IOException("cannot write " + target + ": " + oneLine(e), e);
        } finally {
            try {
                if (!ok) Files.deleteIfExists(tmp);
            } finally {
                IN_FLIGHT.remove(tmp);
            }
        }
    }

    /** The most specific message of the chain (e.g. "No space left on device" under ImageIO's wrapper), on one line. */
    private static String oneLine(Exception e) {
        Throwable c = e;
        for (Throwable t = e.getCause(); t != null; t = t.getCause())
            if (t instanceof IOException && t.getMessage() != null) c = t;
        String m = c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
        return m.replaceAll("\\s*\\R\\s*", " ").strip();
    }

    /** Moves src over dst atomically where the file system can, else replaces it. */
    private static void moveInto(Path src, Path dst) throws IOException {
        try {
            Files.move(src, dst, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(src, dst, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}

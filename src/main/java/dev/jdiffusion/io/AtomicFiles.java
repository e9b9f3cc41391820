package dev.jdiffusion.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The one way this program writes an output file (PNGs, latents, safetensors): through a temporary sibling that is
 * fsynced and renamed over the target once complete, so readers never see a half-written file and a failure (an I/O
 * error, a full disk) leaves nothing behind: neither the target nor the temporary; an existing target stays as it
 * was. The temporary is created with {@code CREATE_NEW} and no explicit permissions, so it has, from its first byte,
 * the mode any plain file gets under the process's umask (as {@code >} in a shell), and the rename keeps it; no
 * chmod, no window with other permissions. Errors name the target and say what is wrong, in one line.
 * The temporaries being written are tracked so that a shutdown hook can delete them when the process is interrupted
 * ({@link #shutdown()}).
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

    /** Deletes every temporary being written now; returns how many were deleted. */
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

    /** Runs body on a temporary file next to target, then commits it onto target; deletes the temporary on failure. */
    public static void write(Path target, Writer body) throws IOException {
        try (Pending p = start(target)) {
            try {
                body.writeTo(p.temp());
            } catch (IOException | UncheckedIOException e) {
                throw new IOException("cannot write " + target + ": " + oneLine(e), e);
            }
            p.commit();
        }
    }

    /**
     * A temporary file next to target, tracked until {@link #commit()} renames it onto the target or
     * {@link #close()} deletes it. For writers that stream into the file over many calls.
     */
    public static final class Pending implements AutoCloseable {
        private final Path target, temp;
        private boolean done;

        private Pending(Path target, Path temp) {
            this.target = target;
            this.temp = temp;
        }

        /** The temporary file (empty when started) to write into. */
        public Path temp() { return temp; }

        /** Flushes the temporary to the disk and renames it over the target (atomically where the file system can). */
        public void commit() throws IOException {
            if (done) throw new IllegalStateException("cannot write " + target + ": already committed or closed");
            try {
                try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
                }
                done = true;
            } catch (IOException e) {
                throw new IOException("cannot write " + target + ": " + oneLine(e), e);
            } finally {
                close();
            }
        }

        /** Deletes the temporary unless committed. */
        @Override public void close() {
            try {
                if (!done) Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // nothing more to do: the temporary's name starts with a dot and ends with .tmp
            } finally {
                done = true;
                IN_FLIGHT.remove(temp);
            }
        }
    }

    /** Creates the temporary for target (checking the folder first); fails with a one-line message naming target. */
    public static Pending start(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (Files.isDirectory(abs)) throw new IOException("cannot write " + target + ": it is a folder");
        if (dir == null || !Files.isDirectory(dir)) throw new NoSuchFileException(target.toString(), null, "cannot write: folder " + dir + " does not exist");
        if (!Files.isWritable(dir)) throw new AccessDeniedException(target.toString(), null, "cannot write: folder " + dir + " is not writable");
        synchronized (LOCK) { // a temporary is either tracked before the shutdown hook looks, or never created
            if (shuttingDown) throw new IOException("cannot write " + target + ": the process is shutting down");
            for (int attempt = 0; ; attempt++) {
                Path tmp = dir.resolve("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
                try {
                    // no file attributes: the mode is what the umask gives a plain file (createTempFile would give 0600)
                    Files.newByteChannel(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW).close();
                    IN_FLIGHT.add(tmp);
                    return new Pending(abs, tmp);
                } catch (FileAlreadyExistsException e) {
                    if (attempt >= 8) throw new IOException("cannot write " + target + ": " + oneLine(e), e);
                } catch (IOException e) {
                    throw new IOException("cannot write " + target + ": " + oneLine(e), e);
                }
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
}

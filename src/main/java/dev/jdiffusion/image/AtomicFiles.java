package dev.jdiffusion.image;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes a file through a temporary sibling that is renamed over the target once complete, so readers never see a
 * half-written file and a failure leaves nothing behind. Errors name the file and say what is wrong.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

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
        try {
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + e.getMessage(), e);
        }
        boolean ok = false;
        try {
            body.writeTo(tmp);
            moveInto(tmp, abs);
            ok = true;
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (!ok) Files.deleteIfExists(tmp);
        }
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

package dev.jdiffusion.faults;

import dev.jdiffusion.io.AtomicFiles;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** Output files appear whole or not at all: a full disk, an unwritable folder or an interruption leave nothing partial. */
class AtomicWriteFaultsTest {

    /** A stream that fails as a full disk does once limit bytes have been written. */
    static final class FullDisk extends FilterOutputStream {
        long left;

        FullDisk(OutputStream out, long limit) {
            super(out);
            left = limit;
        }

        @Override public void write(int b) throws IOException {
            if (left-- <= 0) throw new IOException("No space left on device");
            out.write(b);
        }

        @Override public void write(byte[] b, int off, int len) throws IOException {
            for (int i = 0; i < len; i++) write(b[off + i]);
        }
    }

    static Tensor image() {
        Tensor t = Tensor.zeros(3, 64, 64);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (0.5 + 0.4 * Math.sin(i * 0.37));
        return t;
    }

    /**
     * PNGs, latents and every other output get the mode a plain file gets under the process's umask (as a shell's
     * {@code >} would make it), not createTempFile's 0600; the reference is a file created without attributes.
     */
    @Test void outputsGetThePermissionsOfAPlainFile(@TempDir Path dir) throws IOException {
        assumeFalse(!dir.getFileSystem().supportedFileAttributeViews().contains("posix"), "POSIX file system");
        var plain = Files.getPosixFilePermissions(Files.createFile(dir.resolve("plain")));
        Path png = dir.resolve("a.png"), st = dir.resolve("a.safetensors"), raw = dir.resolve("a.bin");
        Images.writePng(png, image(), Map.of("parameters", "x"));
        SafetensorsWriter.write(st, Map.of("latent", Tensor.zeros(1, 4, 2, 2)), DType.F32, Map.of());
        AtomicFiles.write(raw, tmp -> Files.write(tmp, new byte[]{1, 2, 3}));
        for (Path p : List.of(png, st, raw))
            assertEquals(PosixFilePermissions.toString(plain), PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
        // an existing target is replaced by a file with the same plain mode, not kept private
        Images.writePng(png, image(), Map.of());
        assertEquals(plain, Files.getPosixFilePermissions(png));
    }

    @Test void aFullDiskLeavesNoPartialFileAndOneLineOfError(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.png");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(out, tmp -> {
            try (OutputStream s = new FullDisk(Files.newOutputStream(tmp), 1000)) {
                if (!ImageIO.write(Images.toBufferedImage(image()), "png", s)) throw new IOException("no PNG writer");
            }
        }));
        assertEquals("cannot write " + out + ": No space left on device", e.getMessage());
        assertEquals(List.of(), Tiny.list(dir), "a partial file or temporary is left");
        assertTrue(AtomicFiles.inFlight().isEmpty());
    }

    @Test void aFailedRewriteKeepsTheOldFile(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.png");
        Images.writePng(out, image(), Map.of("parameters", "first"));
        byte[] before = Files.readAllBytes(out);
        assertThrows(IOException.class, () -> AtomicFiles.write(out, tmp -> {
            Files.write(tmp, new byte[]{1, 2, 3});
            throw new IOException("No space left on device");
        }));
        assertArrayEquals(before, Files.readAllBytes(out));
        assertEquals(List.of(out), Tiny.list(dir));
    }

    @Test void theShutdownHookDeletesATemporaryBeingWritten(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.png");
        // what the CLI's shutdown hook does when Ctrl-C arrives while the PNG is written
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(out, tmp -> {
            Files.write(tmp, new byte[100]);
            assertEquals(java.util.Set.of(tmp), AtomicFiles.inFlight());
            assertEquals(1, AtomicFiles.deleteInFlight());
        }));
        assertTrue(e.getMessage().startsWith("cannot write " + out), e.getMessage());
        assertEquals(List.of(), Tiny.list(dir));
    }

    @Test void anUnwritableFolderIsOneClearLine(@TempDir Path dir) throws IOException {
        Path ro = Files.createDirectory(dir.resolve("ro"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(ro), "running as root: permissions do not apply");
            IOException e = assertThrows(IOException.class, () -> Images.writePng(ro.resolve("out.png"), image(), Map.of()));
            assertTrue(e.getMessage().contains("not writable") && !e.getMessage().contains("\n"), e.getMessage());
            assertEquals(List.of(), Tiny.list(ro));
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }
}

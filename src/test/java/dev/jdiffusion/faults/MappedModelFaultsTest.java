package dev.jdiffusion.faults;

import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The model's files change while they are mapped. Deleting them is harmless (on Linux and macOS the mapping keeps
 * the data); truncating them makes reads of the lost pages fault, which the JVM reports as an InternalError: the
 * engine turns that into a ModelFormatException naming the model and saying what happened.
 */
class MappedModelFaultsTest {

    static void forEachWeightFile(Path dir, IOConsumer action) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".safetensors")).toList()) action.accept(p);
        }
    }

    interface IOConsumer {
        void accept(Path p) throws IOException;
    }

    @Test void deletingTheFilesOfALoadedModelChangesNothing(@TempDir Path dir) throws IOException {
        Tensor expected;
        try (StableDiffusion sd = StableDiffusion.load(Tiny.sd1())) {
            expected = sd.generate(Tiny.small(5).build()).images().get(0);
        }
        Path copy = Tiny.copyTree(Tiny.sd1(), dir.resolve("model"));
        try (StableDiffusion sd = StableDiffusion.load(copy)) {
            forEachWeightFile(copy, Files::delete);
            // nothing has been read from the big matrices yet: all of it comes from the deleted files' mappings
            assertTrue(Tiny.same(expected, sd.generate(Tiny.small(5).build()).images().get(0)));
        }
    }

    @Test void truncatingTheFilesOfALoadedModelIsAClearModelError(@TempDir Path dir) throws IOException {
        Path copy = Tiny.copyTree(Tiny.sd1(), dir.resolve("model"));
        try (StableDiffusion sd = StableDiffusion.load(copy)) {
            // cut every weight file to its first page (header): the tensors' pages are gone
            forEachWeightFile(copy, p -> {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.truncate(Math.min(ch.size(), 4096));
                }
            });
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> sd.generate(Tiny.small(5).build()));
            String m = e.getMessage();
            assertTrue(m.contains(copy.toString()) && m.contains("changed on disk while in use"), m);
            assertFalse(m.contains("\n"), m);
            assertTrue(e.getCause() instanceof InternalError, String.valueOf(e.getCause()));
            // still refuses cleanly, and closes
            assertThrows(ModelFormatException.class, () -> sd.generate(Tiny.small(5).build()));
        }
    }
}

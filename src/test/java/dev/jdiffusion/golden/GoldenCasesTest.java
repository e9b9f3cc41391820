package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.opentest4j.TestAbortedException;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Discovers every golden case (each cases/NAME/info.json), dispatches on its kind and runs it. A kind the engine
 * cannot run fails, unless the case is on the pending list (pending.txt in the test resources, each line naming the
 * feature it waits for): a pending case is still run, and reported as skipped with that reason while it fails; a
 * pending case that passes fails, so that the list stays true.
 */
class GoldenCasesTest {

    @TestFactory
    Stream<DynamicTest> goldenCases() {
        List<Path> dirs = Golden.allCaseDirs();
        assertFalse(dirs.isEmpty(), "no golden cases under " + Golden.dir());
        Map<String, GoldenKind> kinds = GoldenKinds.all();
        // -Dgolden.kinds=unet,vae runs only those kinds (for working on one model); the default runs all.
        String only = System.getProperty("golden.kinds", "").trim();
        java.util.Set<String> filter = only.isEmpty() ? null : java.util.Set.of(only.split("\\s*,\\s*"));
        return dirs.stream().filter(d -> filter == null || filter.contains(Golden.json(d.resolve("info.json")).path("kind").asText(""))).map(d -> {
            JsonNode info = Golden.json(d.resolve("info.json"));
            String kind = info.path("kind").asText("");
            Optional<String> pending = Golden.pendingReason(d);
            return DynamicTest.dynamicTest(d.getFileName() + " [" + kind + "]" + pending.map(p -> " pending: " + p).orElse(""), () -> {
                if (pending.isEmpty()) {
                    run(kinds, d, kind, info);
                    return;
                }
                try {
                    run(kinds, d, kind, info);
                } catch (Throwable t) {
                    if (t instanceof VirtualMachineError) throw t;
                    String why = String.valueOf(t.getMessage()).lines().findFirst().orElse("");
                    System.out.printf("golden %-48s pending (%s): %s%n", d.getFileName(), pending.get(), why);
                    throw new TestAbortedException("pending " + pending.get() + ": " + t.getClass().getSimpleName() + ": " + why);
                }
                fail("golden case " + d.getFileName() + " passes but is on the pending list (" + pending.get()
                        + "): remove its line from src/test/resources/dev/jdiffusion/golden/pending.txt");
            });
        });
    }

    private static void run(Map<String, GoldenKind> kinds, Path d, String kind, JsonNode info) throws Exception {
        GoldenKind k = kinds.get(kind);
        if (k == null) fail("golden case " + d.getFileName() + ": kind '" + kind + "' is not supported by the engine yet");
        k.run(d, info);
    }
}

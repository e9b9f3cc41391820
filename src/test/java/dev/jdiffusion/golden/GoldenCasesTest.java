package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Discovers every golden case (each cases/NAME/info.json), dispatches on its kind and runs it. A kind the engine
 * cannot run yet fails with a message; nothing is skipped.
 */
class GoldenCasesTest {

    @TestFactory
    Stream<DynamicTest> goldenCases() {
        List<Path> dirs = Golden.caseDirs();
        assertFalse(dirs.isEmpty(), "no golden cases under " + Golden.dir());
        Map<String, GoldenKind> kinds = GoldenKinds.all();
        // -Dgolden.kinds=unet,vae runs only those kinds (for working on one model); the default runs all.
        String only = System.getProperty("golden.kinds", "").trim();
        java.util.Set<String> filter = only.isEmpty() ? null : java.util.Set.of(only.split("\\s*,\\s*"));
        return dirs.stream().filter(d -> filter == null || filter.contains(Golden.json(d.resolve("info.json")).path("kind").asText(""))).map(d -> {
            JsonNode info = Golden.json(d.resolve("info.json"));
            String kind = info.path("kind").asText("");
            return DynamicTest.dynamicTest(d.getFileName() + " [" + kind + "]", () -> {
                GoldenKind k = kinds.get(kind);
                if (k == null) fail("golden case " + d.getFileName() + ": kind '" + kind + "' is not supported by the engine yet");
                k.run(d, info);
            });
        });
    }
}

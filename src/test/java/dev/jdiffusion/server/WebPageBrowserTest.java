package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web page in a real browser (headless Chromium over the DevTools protocol): it lists the samplers and models,
 * generates an image on the tiny golden model that appears in the results and the gallery (the same image the API
 * gives for the same request), Generate turns into Cancel, and cancelling stops the job on the server. It fits a
 * phone's width. Screenshots go to target/ (docs/server.png in the README is one of them). Skipped only outside CI
 * when Chromium is not installed; .ci/run installs it.
 */
class WebPageBrowserTest {
    @Test void generatesAnImageInTheBrowser(@TempDir Path profile) throws Exception {
        Path chromium = Cdp.find();
        if (chromium == null) {
            Assumptions.assumeTrue(System.getenv("CI") == null, "skip: no chromium");
            throw new AssertionError("CI is set but chromium is not installed (.ci/run installs Debian's chromium package)");
        }
        ServerConfig cfg = ServerConfig.of(Golden.resolve("models/tiny-sd1")).withPort(0).withLoraDir(Golden.resolve("models/loras"));
        try (ApiServer server = ApiServer.start(cfg, null); Cdp b = new Cdp(chromium, profile)) {
            int port = server.port();
            b.viewport(1000, 820, false);
            b.call("Page.enable", Map.of());
            b.call("Page.navigate", Map.of("url", "http://127.0.0.1:" + port + "/"));
            b.await("document.querySelectorAll('#sampler option').length === 7 && document.querySelectorAll('#model option').length === 1"
                    + " && document.getElementById('status').textContent.startsWith('ready')", Duration.ofSeconds(60));
            assertTrue(b.eval("document.querySelectorAll('#lora option').length").asInt() > 1, "LoRA picker filled from /sdapi/v1/loras");

            b.eval("""
                    (() => {
                      const set = (id, v) => { document.getElementById(id).value = v; };
                      set('prompt', 'a lighthouse on a cliff at dusk'); set('negative', 'blurry');
                      set('width', 64); set('height', 64); set('steps', 3); set('sampler', 'Euler'); set('seed', 42); set('cfg', 7);
                    })()""");
            String label = b.eval("document.getElementById('generate').click(), document.getElementById('generate').textContent").asText();
            assertEquals("Cancel", label, "Generate becomes Cancel while it runs");
            b.await("document.querySelectorAll('#gallery img').length === 1 && document.getElementById('generate').textContent === 'Generate'",
                    Duration.ofSeconds(120));
            assertEquals(64, b.eval("document.querySelector('#results img').naturalWidth").asInt(), "the image loaded");
            String params = b.eval("document.getElementById('params').textContent").asText();
            assertTrue(params.contains("Seed: 42") && params.contains("Steps: 3"), params);
            assertTrue(b.eval("document.querySelector('#gallery a').download").asText().endsWith(".png"), "downloadable");
            // the browser shows the very image the API gives for the same request
            ObjectNode same = Http.txt2img("a lighthouse on a cliff at dusk", 42, 3);
            same.put("negative_prompt", "blurry");
            same.put("cfg_scale", 7);
            same.put("batch_size", 1);
            String api = Http.post(port, "/sdapi/v1/txt2img", same).json().get("images").get(0).asText();
            assertEquals("data:image/png;base64," + api, b.eval("document.querySelector('#results img').src").asText());

            // a second image with the dice's seed, so the gallery holds two
            b.eval("document.getElementById('dice').click()");
            assertTrue(b.eval("Number(document.getElementById('seed').value)").asLong() >= 0);
            b.eval("document.getElementById('generate').click()");
            b.await("document.querySelectorAll('#gallery img').length === 2 && document.getElementById('generate').textContent === 'Generate'",
                    Duration.ofSeconds(120));
            Path shots = Files.createDirectories(Path.of("target"));
            Files.write(shots.resolve("server-screenshot.png"), b.screenshot());

            // Cancel: a long run, cancelled from the page, stops on the server
            b.eval("document.getElementById('width').value = 192; document.getElementById('height').value = 192;"
                    + " document.getElementById('steps').value = 50; document.getElementById('generate').click()");
            b.await("document.getElementById('preview').getAttribute('src')", Duration.ofSeconds(60));
            assertNotNull(Http.get(port, "/sdapi/v1/progress").json().get("state").get("job").asText());
            b.eval("document.getElementById('generate').click()");
            b.await("document.getElementById('generate').textContent === 'Generate' && document.getElementById('error').textContent === 'cancelled'",
                    Duration.ofSeconds(30));
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!Http.get(port, "/sdapi/v1/progress").json().get("state").get("job").asText().isEmpty() && System.nanoTime() < deadline)
                Thread.sleep(50);
            assertEquals("", Http.get(port, "/sdapi/v1/progress").json().get("state").get("job").asText(), "the server cancelled the job");
            assertEquals(2, b.eval("document.querySelectorAll('#gallery img').length").asInt());

            // a phone's width: nothing wider than the screen
            b.viewport(390, 844, true);
            b.await("document.documentElement.scrollWidth <= 390", Duration.ofSeconds(5));
            Files.write(shots.resolve("server-phone.png"), b.screenshot());
            System.out.println("browser test: " + chromium + " generated and showed 2 images, cancel stopped the server job; screenshots in target/");
        }
    }
}

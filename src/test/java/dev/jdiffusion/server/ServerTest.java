package dev.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.Inpainting;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The A1111 endpoints on the tiny golden model over a loopback port: shapes, images equal to solo runs, bad input. */
class ServerTest {
    @TempDir static Path dir;
    static ApiServer server;
    static int port;
    static StableDiffusion solo;

    static Path tiny() { return Golden.resolve("models/tiny-sd1"); }

    @BeforeAll static void start() throws IOException {
        Path models = Files.createDirectories(dir.resolve("models")), loras = Files.createDirectories(dir.resolve("loras"));
        Files.createSymbolicLink(models.resolve("other"), tiny().toAbsolutePath());
        Files.createSymbolicLink(loras.resolve("style.safetensors"), Golden.resolve("models/loras/kohya_sgm.safetensors").toAbsolutePath());
        ServerConfig cfg = ServerConfig.of(tiny()).withPort(0).withModelsDir(models).withLoraDir(loras).withQueue(2)
                .withLimits(1 << 20, 256, 50, 4).withShutdownTimeout(Duration.ofSeconds(5));
        server = ApiServer.start(cfg, null);
        port = server.port();
        solo = StableDiffusion.load(tiny());
    }

    @AfterAll static void stop() {
        if (server != null) server.shutdown();
        if (solo != null) solo.close();
    }

    /** The image the engine makes for this request alone, as 8-bit RGB. */
    static byte[] soloRun(String prompt, long seed, int steps, String sampler) {
        return Images.toUint8(solo.generate(GenerationRequest.builder(prompt).size(64, 64).steps(steps).sampler(sampler).seed(seed).build()).images().get(0));
    }

    static JsonNode info(JsonNode reply) throws IOException { return Http.JSON.readTree(reply.get("info").asText()); }

    @Test void txt2imgGivesTheSoloImageWithA1111Shapes() throws IOException {
        ObjectNode req = Http.txt2img("a red boat", 42, 3);
        req.put("batch_size", 2);
        req.put("negative_prompt", "");
        req.put("restore_faces", false);   // a client's defaults: accepted silently
        req.put("enable_hr", false);
        req.putArray("styles");
        Http.Response r = Http.post(port, "/sdapi/v1/txt2img", req);
        assertEquals(200, r.status(), r.text());
        JsonNode j = r.json();
        assertEquals(2, j.get("images").size());
        JsonNode info = info(j);
        assertEquals(42, info.get("seed").asLong());
        assertEquals("[42,43]", info.get("all_seeds").toString());
        assertEquals("Euler", info.get("sampler_name").asText());
        assertEquals(2, info.get("infotexts").size());
        assertEquals(0, info.get("warnings").size(), info.toString());
        assertEquals("a red boat", j.get("parameters").get("prompt").asText());
        for (int i = 0; i < 2; i++) {
            String b64 = j.get("images").get(i).asText();
            assertArrayEquals(soloRun("a red boat", 42 + i, 3, "euler"), Images.toUint8(Http.pixels(b64)), "image " + i);
            Map<String, String> text = Images.readPngText(Base64.getDecoder().decode(b64));
            assertEquals(info.get("infotexts").get(i).asText(), text.get("parameters"));
            // one naming: the PNG's parameters name the sampler as the reply's sampler_name does (A1111's "Euler")
            assertTrue(text.get("parameters").contains("Sampler: " + info.get("sampler_name").asText() + ","), text.get("parameters"));
        }
    }


    @Test void img2imgInpaintsAndUnsupportedFieldsWarn() throws IOException {
        Tensor init = Tensor.zeros(1, 3, 64, 64);
        float[] d = init.data();
        for (int i = 0; i < d.length; i++) d[i] = (i % 64) / 63f;
        String b64 = Base64.getEncoder().encodeToString(Images.pngBytes(init, Map.of()));
        Tensor sent = Http.pixels(b64); // what the server decodes: 8-bit
        init = new Tensor(sent.data(), 1, 3, 64, 64);
        ObjectNode req = Http.txt2img("a hill", 7, 4);
        req.putArray("init_images").add("data:image/png;base64," + b64);
        req.put("denoising_strength", 0.5);
        Tensor maskImage = Tensor.zeros(1, 3, 64, 64);
        for (int c = 0; c < 3; c++) for (int y = 16; y < 48; y++) for (int x = 8; x < 40; x++) maskImage.data()[(c * 64 + y) * 64 + x] = 1f;
        req.put("mask", Base64.getEncoder().encodeToString(Images.pngBytes(maskImage, Map.of())));
        req.put("mask_blur", 2);
        req.put("some_future_field", 3);
        Http.Response r = Http.post(port, "/sdapi/v1/img2img", req);
        assertEquals(200, r.status(), r.text());
        JsonNode info = info(r.json());
        assertEquals(1, r.json().get("images").size());
        assertEquals(0.5, info.get("denoising_strength").asDouble(), 1e-6);
        String warnings = info.get("warnings").toString();
        assertTrue(warnings.contains("some_future_field"), warnings);
        assertFalse(warnings.contains("mask"), warnings);
        assertTrue(r.json().get("parameters").get("init_images").isNull(), "init images are not echoed back");
        byte[] expected = Images.toUint8(solo.generate(GenerationRequest.builder("a hill").size(64, 64).steps(4).sampler("euler").seed(7)
                .initImage(init).strength(0.5f).mask(Inpainting.maskFromImage(maskImage)).maskBlur(2).build()).images().get(0));
        assertArrayEquals(expected, Images.toUint8(Http.pixels(r.json().get("images").get(0).asText())));
    }

    @Test void loraTagsApplyTheLoraFromTheLoraDir() throws IOException {
        JsonNode loras = Http.get(port, "/sdapi/v1/loras").json();
        assertEquals("style", loras.get(0).get("name").asText());
        Http.Response r = Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("a red boat <lora:style:0.8>", 42, 3));
        assertEquals(200, r.status(), r.text());
        JsonNode info = info(r.json());
        assertEquals(0, info.get("warnings").size(), info.toString());
        assertTrue(info.get("infotexts").get(0).asText().contains("Lora hashes"), info.toString());
        byte[] got = Images.toUint8(Http.pixels(r.json().get("images").get(0).asText()));
        try (StableDiffusion withLoras = StableDiffusion.load(ModelOptions.of(tiny()).withLoraDir(dir.resolve("loras")))) {
            byte[] expected = Images.toUint8(withLoras.generate(GenerationRequest.builder("a red boat <lora:style:0.8>").size(64, 64).steps(3)
                    .sampler("euler").seed(42).build()).images().get(0));
            assertArrayEquals(expected, got, "the solo run with the same LoRA");
        }
        assertFalse(Arrays.equals(soloRun("a red boat", 42, 3, "euler"), got), "the LoRA changed the image");
        Http.Response negative = Http.post(port, "/sdapi/v1/txt2img", negativeTag());
        assertTrue(info(negative.json()).get("warnings").toString().contains("negative prompt"), negative.text());
        Http.Response missing = Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("x <lora:nope:1>", 1, 1));
        assertEquals(404, missing.status(), missing.text());
        assertTrue(missing.json().get("detail").asText().contains("known: style"), missing.text());
    }

    static ObjectNode negativeTag() {
        ObjectNode o = Http.txt2img("a red boat", 1, 1);
        o.put("negative_prompt", "blurry <lora:style:1>");
        return o;
    }

    @Test void listsProgressHealthMetricsAndPngInfo() throws IOException {
        JsonNode samplers = Http.get(port, "/sdapi/v1/samplers").json();
        assertEquals("[\"Euler a\",\"Euler\",\"DDIM\",\"DPM++ 2M\",\"DPM++ 2M Karras\",\"LCM\"]",
                Http.JSON.valueToTree(samplers.findValuesAsText("name")).toString());
        JsonNode models = Http.get(port, "/sdapi/v1/sd-models").json();
        assertEquals("tiny-sd1", models.get(0).get("title").asText());
        assertEquals("other", models.get(1).get("model_name").asText());
        JsonNode p = Http.get(port, "/sdapi/v1/progress").json();
        assertEquals(0.0, p.get("progress").asDouble());
        assertTrue(p.get("state").has("sampling_steps"));
        assertEquals(200, Http.post(port, "/sdapi/v1/interrupt", null).status());
        assertEquals(200, Http.post(port, "/sdapi/v1/skip", null).status());
        Http.Response h = Http.get(port, "/health");
        assertEquals(200, h.status());
        assertEquals("ready", h.json().get("status").asText());
        Http.Response page = Http.get(port, "/");
        assertEquals(200, page.status());
        assertTrue(page.text().contains("id=\"generate\""));
        assertEquals(200, Http.get(port, "/app.js").status());

        Http.Response gen = Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("a (red:1.2) boat", 5, 2));
        ObjectNode req = Http.JSON.createObjectNode();
        req.put("image", gen.json().get("images").get(0).asText());
        JsonNode png = Http.post(port, "/sdapi/v1/png-info", req).json();
        assertTrue(png.get("info").asText().startsWith("a (red:1.2) boat\nSteps: 2"), png.toString());
        assertEquals("a (red:1.2) boat", png.get("parameters").get("Prompt").asText());
        assertEquals("5", png.get("parameters").get("Seed").asText());
        assertEquals(64, png.get("parameters").get("Size-1").asInt());

        String metrics = Http.get(port, "/metrics").text();
        for (String m : new String[]{"jdiffusion_queue_length 0", "jdiffusion_jobs_total{outcome=\"completed\"}", "jdiffusion_step_seconds_count",
                "jdiffusion_http_errors_total", "# TYPE jdiffusion_step_seconds summary"})
            assertTrue(metrics.contains(m), m + " in\n" + metrics);
    }

    @Test void optionsSwitchTheModel() throws IOException {
        assertEquals("tiny-sd1", Http.get(port, "/sdapi/v1/options").json().get("sd_model_checkpoint").asText());
        Http.Response sw = Http.post(port, "/sdapi/v1/options", Map.of("sd_model_checkpoint", "other", "jpeg_quality", 80));
        assertEquals(200, sw.status(), sw.text());
        assertTrue(sw.json().get("warnings").toString().contains("jpeg_quality"));
        assertEquals("other", Http.get(port, "/sdapi/v1/options").json().get("sd_model_checkpoint").asText());
        Http.Response r = Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("a red boat", 42, 3));
        assertEquals("other", info(r.json()).get("sd_model_name").asText());
        assertArrayEquals(soloRun("a red boat", 42, 3, "euler"), Images.toUint8(Http.pixels(r.json().get("images").get(0).asText())));
        // a per-request override switches too
        ObjectNode back = Http.txt2img("a red boat", 42, 3);
        back.putObject("override_settings").put("sd_model_checkpoint", "tiny-sd1 [abcdef12]");
        assertEquals("tiny-sd1", info(Http.post(port, "/sdapi/v1/txt2img", back).json()).get("sd_model_name").asText());
        Http.Response missing = Http.post(port, "/sdapi/v1/options", Map.of("sd_model_checkpoint", "nope"));
        assertEquals(404, missing.status());
        assertTrue(missing.json().get("detail").asText().contains("known: tiny-sd1, other"), missing.text());
    }

    /** Every kind of bad input is a 4xx with a one-line reason and no stack trace; the server keeps serving. */
    @Test void badInputIsAOneLine4xx() throws IOException {
        Map<String, Object[]> cases = new LinkedHashMap<>();
        cases.put("malformed JSON", new Object[]{400, "{\"prompt\": \"a\",", "malformed JSON"});
        cases.put("not an object", new Object[]{400, "[1, 2]", "JSON object"});
        cases.put("empty body", new Object[]{400, "", "empty"});
        cases.put("bad base64", new Object[]{400, "{\"init_images\": [\"@@@not base64@@@\"]}", "not valid base64"});
        cases.put("base64 of no image", new Object[]{400, "{\"init_images\": [\"" + Base64.getEncoder().encodeToString("hello".getBytes()) + "\"]}", "not an image"});
        cases.put("width not multiple of 8", new Object[]{422, "{\"prompt\": \"a\", \"width\": 60}", "multiple of 8"});
        cases.put("too wide", new Object[]{422, "{\"prompt\": \"a\", \"width\": 4096}", "--max-side"});
        cases.put("too many steps", new Object[]{422, "{\"prompt\": \"a\", \"steps\": 51}", "--max-steps"});
        cases.put("zero steps", new Object[]{422, "{\"prompt\": \"a\", \"steps\": 0}", "steps"});
        cases.put("too many images", new Object[]{422, "{\"prompt\": \"a\", \"batch_size\": 3, \"n_iter\": 2}", "--max-images"});
        cases.put("unknown sampler", new Object[]{422, "{\"prompt\": \"a\", \"sampler_name\": \"Heun\"}", "DPM++ 2M Karras"});
        cases.put("unsupported scheduler", new Object[]{422, "{\"prompt\": \"a\", \"sampler_name\": \"Euler\", \"scheduler\": \"Exponential\"}", "scheduler"});
        cases.put("hires fix", new Object[]{422, "{\"prompt\": \"a\", \"enable_hr\": true}", "enable_hr"});
        cases.put("wrong type", new Object[]{422, "{\"prompt\": \"a\", \"steps\": \"many\"}", "steps must be an integer"});
        cases.put("NaN guidance", new Object[]{422, "{\"prompt\": \"a\", \"cfg_scale\": \"NaN\"}", "finite"});
        cases.put("negative seed", new Object[]{422, "{\"prompt\": \"a\", \"seed\": -5}", "seed"});
        cases.put("prompt too long", new Object[]{422, "{\"prompt\": \"" + "word ".repeat(2000) + "\", \"width\": 64, \"height\": 64}", "chunks"});
        cases.put("unknown model", new Object[]{404, "{\"prompt\": \"a\", \"override_settings\": {\"sd_model_checkpoint\": \"x\"}}", "not found"});
        for (Map.Entry<String, Object[]> c : cases.entrySet()) {
            String path = c.getKey().contains("base64") ? "/sdapi/v1/img2img" : "/sdapi/v1/txt2img";
            Http.Response r = Http.send(port, "POST", path, ((String) c.getValue()[1]).getBytes(StandardCharsets.UTF_8),
                    Map.of("Content-Type", "application/json"));
            assertBad(c.getKey(), r, (int) c.getValue()[0], (String) c.getValue()[2]);
        }
        try (Socket s = Http.open(port)) { // refused from its Content-Length, before the body is read
            s.getOutputStream().write(("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + ((1 << 20) + 10) + "\r\nConnection: close\r\n\r\n{\"prompt\": ").getBytes(StandardCharsets.ISO_8859_1));
            assertBad("body too large", Http.read(s.getInputStream()), 413, "--max-body-mb");
        }
        assertBad("form post", Http.send(port, "POST", "/sdapi/v1/txt2img", "{}".getBytes(), Map.of("Content-Type", "text/plain")), 415, "application/json");
        assertBad("wrong method", Http.get(port, "/sdapi/v1/txt2img"), 405, "POST");
        assertBad("unknown path", Http.get(port, "/sdapi/v1/nothing"), 404, "no such endpoint");
        assertBad("bad png-info", Http.post(port, "/sdapi/v1/png-info", Map.of("image", "AAAA")), 400, "image");
        assertBad("foreign Host", Http.send(port, "GET", "/sdapi/v1/options", null, Map.of("Host", "evil.example")), 403, "loopback");
        assertEquals(200, Http.get(port, "/health").status());
        assertEquals(200, Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("still fine", 1, 1)).status());
    }

    static void assertBad(String what, Http.Response r, int status, String mentions) {
        assertEquals(status, r.status(), what + ": " + r.text());
        JsonNode j = r.json();
        String detail = j.get("detail").asText();
        assertFalse(detail.contains("\n") || detail.contains("at dev.") || detail.contains("Exception"), what + ": " + detail);
        assertTrue(detail.contains(mentions), what + ": '" + detail + "' should mention " + mentions);
        System.out.printf("bad input %-26s -> %d %s%n", what, status, detail.length() > 110 ? detail.substring(0, 110) + "..." : detail);
        if (status == 422 && what.equals("unknown sampler")) assertEquals(6, j.get("samplers").size());
    }

    /** A client that sends a request and vanishes mid-response (a reset) cancels its job and leaves the server healthy. */
    @Test void killedClientCancelsItsJobAndLeavesTheServerHealthy() throws Exception {
        ObjectNode slow = Http.txt2img("slow", 3, 50);
        slow.put("width", 256);
        slow.put("height", 256);
        byte[] body = Http.JSON.writeValueAsBytes(slow);
        String before = Http.get(port, "/metrics").text();
        try (Socket s = Http.open(port)) {
            Http.write(s, "POST", "/sdapi/v1/txt2img", body, Map.of("Content-Type", "application/json"));
            byte[] head = s.getInputStream().readNBytes(12); // "HTTP/1.1 200": the response is under way
            assertEquals("HTTP/1.1 200", new String(head, StandardCharsets.ISO_8859_1));
            s.setSoLinger(true, 0); // close with a reset, as a killed process does
        }
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (Http.get(port, "/sdapi/v1/progress").json().get("state").get("job").asText().equals("txt2img") && System.nanoTime() < deadline)
            Thread.sleep(50);
        assertEquals("", Http.get(port, "/sdapi/v1/progress").json().get("state").get("job").asText(), "the job was cancelled");
        String after = Http.get(port, "/metrics").text();
        assertTrue(count(after, "disconnected") > count(before, "disconnected"), after);
        assertEquals(200, Http.get(port, "/health").status());
        Http.Response r = Http.post(port, "/sdapi/v1/txt2img", Http.txt2img("a red boat", 42, 3));
        assertArrayEquals(soloRun("a red boat", 42, 3, "euler"), Images.toUint8(Http.pixels(r.json().get("images").get(0).asText())));
    }

    static long count(String metrics, String outcome) {
        return Arrays.stream(metrics.split("\n")).filter(l -> l.startsWith("jdiffusion_jobs_total{outcome=\"" + outcome + "\"}"))
                .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    @Test void interruptReturnsTheImagesMadeSoFar() throws Exception {
        ObjectNode req = Http.txt2img("many", 11, 40);
        req.put("width", 128);
        req.put("height", 128);
        req.put("n_iter", 4);
        java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean sawPreview = new java.util.concurrent.atomic.AtomicBoolean();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                long deadline = System.nanoTime() + 120_000_000_000L;
                while (System.nanoTime() < deadline) {
                    JsonNode p = Http.get(port, "/sdapi/v1/progress").json();
                    if (p.get("current_image").isTextual()) sawPreview.set(true);
                    if (p.get("state").get("job_no").asInt() >= 1 && p.get("state").get("sampling_step").asInt() >= 1) {
                        Http.post(port, "/sdapi/v1/interrupt", null);
                        return;
                    }
                    Thread.sleep(20);
                }
            } catch (Throwable e) {
                failed.set(e);
            }
        });
        Http.Response r = Http.post(port, "/sdapi/v1/txt2img", req);
        t.join(30_000);
        assertNull(failed.get());
        assertTrue(sawPreview.get(), "a preview while it runs");
        assertEquals(200, r.status());
        JsonNode info = info(r.json());
        assertTrue(info.get("interrupted").asBoolean(), info.toString());
        int n = r.json().get("images").size();
        assertTrue(n >= 1 && n < 4, "images made before the interrupt: " + n);
        assertEquals(11, info.get("all_seeds").get(0).asLong());
    }
}

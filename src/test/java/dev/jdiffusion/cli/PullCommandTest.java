package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.hub.FakeHub;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code jdiffusion pull} against a fake hub on 127.0.0.1. */
class PullCommandTest {
    static final String REPO = "acme/tiny-model";
    static final String UNET = "unet/diffusion_pytorch_model.fp16.safetensors";
    static final String VAE = "vae/diffusion_pytorch_model.safetensors";

    @TempDir Path tmp;
    FakeHub hub;
    Path weights;

    record Result(int code, String out, String err) {}

    private byte[] safetensors(String name, int n, DType dtype) throws IOException {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) Math.sin(i);
        Path p = tmp.resolve("src-" + name + ".safetensors");
        SafetensorsWriter.write(p, Map.of("w", new Tensor(v, n)), dtype, Map.of());
        return Files.readAllBytes(p);
    }

    @BeforeEach void start() throws IOException {
        weights = tmp.resolve("weights");
        Path tiny = Golden.dir().resolve("models/tiny-sd1");
        hub = new FakeHub(REPO)
                .file(".gitattributes", "*.safetensors filter=lfs".getBytes(StandardCharsets.UTF_8), false)
                .file("README.md", "# tiny".getBytes(StandardCharsets.UTF_8), false)
                .file("model_index.json", Files.readAllBytes(tiny.resolve("model_index.json")), false)
                .file("unet/config.json", Files.readAllBytes(tiny.resolve("unet/config.json")), false)
                .file("unet/diffusion_pytorch_model.safetensors", safetensors("unet32", 1000, DType.F32), true)
                .file(UNET, safetensors("unet16", 1_500_000, DType.F16), true)
                .file("unet/diffusion_pytorch_model.bin", new byte[]{(byte) 0x80, 2, 1, 2}, true)
                .file("vae/config.json", Files.readAllBytes(tiny.resolve("vae/config.json")), false)
                .file(VAE, safetensors("vae", 5000, DType.F32), true)
                .file("text_encoder/config.json", Files.readAllBytes(tiny.resolve("text_encoder/config.json")), false)
                .file("text_encoder/model.safetensors", safetensors("te", 300, DType.F32), true)
                .file("text_encoder/pytorch_model.bin", new byte[]{(byte) 0x80, 2, 3}, true)
                .file("tokenizer/vocab.json", Files.readAllBytes(tiny.resolve("tokenizer/vocab.json")), false)
                .file("tokenizer/merges.txt", Files.readAllBytes(tiny.resolve("tokenizer/merges.txt")), false)
                .file("tokenizer/tokenizer_config.json", Files.readAllBytes(tiny.resolve("tokenizer/tokenizer_config.json")), false)
                .file("scheduler/scheduler_config.json", Files.readAllBytes(tiny.resolve("scheduler/scheduler_config.json")), false)
                .file("safety_checker/model.safetensors", new byte[100], true);
    }

    @AfterEach void stop() { hub.close(); }

    private Result pull(Map<String, String> env, String... extra) {
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        String[] args = Stream.concat(Stream.of(REPO, "--dir", weights.toString()), Stream.of(extra)).toArray(String[]::new);
        int code;
        try {
            code = PullCommand.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8), env, false);
        } catch (UsageException ue) {
            code = 2;
            e.writeBytes(ue.getMessage().getBytes(StandardCharsets.UTF_8));
        }
        return new Result(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    private Result pull(String... extra) {
        return pull(Map.of(), Stream.concat(Stream.of("--endpoint", hub.endpoint()), Stream.of(extra)).toArray(String[]::new));
    }

    private Path model() { return weights.resolve("tiny-model"); }

    private List<String> localFiles() throws IOException {
        try (Stream<Path> s = Files.walk(model())) {
            return s.filter(Files::isRegularFile).map(p -> model().relativize(p).toString()).sorted().toList();
        }
    }

    @Test void pullsWhatTheEngineNeeds() throws IOException {
        Map<String, String> env = new HashMap<>();
        env.put("HF_ENDPOINT", hub.endpoint());
        env.put("HF_TOKEN", "hf_secret");
        Result r = pull(env);
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals(List.of("model_index.json", "scheduler/scheduler_config.json", "text_encoder/config.json", "text_encoder/model.safetensors",
                "tokenizer/merges.txt", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
                "unet/config.json", UNET, "vae/config.json", VAE), localFiles());
        for (String f : localFiles()) assertArrayEquals(hub.content(f), Files.readAllBytes(model().resolve(f)), f);
        assertTrue(hub.requests.stream().anyMatch(q -> q.path().startsWith("/api/models/" + REPO + "/revision/main") && "blobs=true".equals(q.query())));
        assertTrue(hub.requests.stream().filter(q -> q.server().equals("hub")).allMatch(q -> "Bearer hf_secret".equals(q.authorization())), "token sent to the hub");
        assertTrue(hub.requests.stream().filter(q -> q.server().equals("cdn")).allMatch(q -> q.authorization() == null), "token never sent to another host");
        assertTrue(hub.requests.stream().filter(q -> q.path().contains("/resolve/")).allMatch(q -> q.path().contains("/resolve/" + FakeHub.COMMIT + "/")),
                "files are fetched from the pinned commit");
        assertTrue(r.out().contains("done"), r.out());

        // The result is a model the engine can open.
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        assertEquals(0, Main.run(new String[]{"info", model().toString()}, new PrintStream(o), new PrintStream(new ByteArrayOutputStream())));
        assertTrue(o.toString().contains("missing:    none"), o.toString());

        // A second pull finds everything in place and downloads nothing.
        int before = hub.requests.size();
        Result again = pull();
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("0 downloaded"), again.out());
        assertEquals(1, hub.requests.size() - before, "only the listing");
    }

    @Test void interruptedDownloadResumesOnTheNextPull() throws IOException {
        int cut = 1_000_000;
        hub.cut(UNET, cut, 1);
        Result first = pull("--retries", "0");
        assertEquals(1, first.code(), first.out() + first.err());
        assertTrue(first.err().contains(UNET) && first.err().contains("run again to resume"), first.err());
        Path part = model().resolve(UNET + ".part");
        assertTrue(Files.isRegularFile(part), "partial file kept");
        long have = Files.size(part);
        assertTrue(have > 0 && have <= cut, "part has " + have);
        assertFalse(Files.exists(model().resolve(UNET)), "never renamed while incomplete");
        assertTrue(Files.exists(model().resolve(VAE)), "the other files were still fetched");

        Result second = pull();
        assertEquals(0, second.code(), second.out() + second.err());
        assertTrue(hub.requests.stream().anyMatch(q -> ("bytes=" + have + "-").equals(q.range())), "resumed with a Range request from byte " + have);
        assertArrayEquals(hub.content(UNET), Files.readAllBytes(model().resolve(UNET)));
        assertFalse(Files.exists(part));
    }

    @Test void retriesResumeWithinOnePull() throws IOException {
        hub.cut(UNET, 700_000, 1);
        Result r = pull();
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("retrying"), r.err());
        assertTrue(hub.requests.stream().anyMatch(q -> q.range() != null), "second attempt used a Range request");
        assertArrayEquals(hub.content(UNET), Files.readAllBytes(model().resolve(UNET)));
    }

    @Test void stalledTransferIsAbandonedAndKeptForResuming() throws IOException {
        hub.stall(UNET, 500_000);
        long t0 = System.nanoTime();
        Result r = pull("--retries", "0", "--stall-timeout", "1");
        assertTrue((System.nanoTime() - t0) / 1e9 < 20, "gave up on the stalled transfer");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("stalled"), r.err());
        assertTrue(Files.size(model().resolve(UNET + ".part")) > 0);
        assertTrue(Files.exists(model().resolve(VAE)), "later files still fetched");
    }

    @Test void wrongChecksumIsRejectedAndDeleted() throws IOException {
        hub.lieAboutSha256(VAE);
        Result r = pull();
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains(VAE) && r.err().contains("corrupted") && r.err().contains("sha256") && r.err().contains("deleted"), r.err());
        assertFalse(Files.exists(model().resolve(VAE)));
        assertFalse(Files.exists(model().resolve(VAE + ".part")));
        assertTrue(Files.exists(model().resolve(UNET)), "the good files are kept");
    }

    @Test void errors() {
        Result missing = pull(Map.of(), "--endpoint", hub.endpoint(), "--revision", "nope");
        // The fake hub answers any revision; an unknown repository is a 404.
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        int code = PullCommand.run(new String[]{"acme/other", "--dir", weights.toString(), "--endpoint", hub.endpoint()},
                new PrintStream(o), new PrintStream(e), Map.of(), false);
        assertEquals(1, code);
        assertTrue(e.toString().contains("404"), e.toString());
        assertEquals(0, missing.code(), missing.err());
        assertEquals(2, pull(Map.of(), "--endpoint", "ftp://x").code());
        ByteArrayOutputStream e2 = new ByteArrayOutputStream();
        assertEquals(2, Main.run(new String[]{"pull", "../../etc", "--endpoint", hub.endpoint()}, new PrintStream(new ByteArrayOutputStream()), new PrintStream(e2)));
        assertTrue(e2.toString().contains("bad repository id"), e2.toString());
        assertEquals(2, Main.run(new String[]{"pull", "--bogus"}, new PrintStream(new ByteArrayOutputStream()), new PrintStream(new ByteArrayOutputStream())));
    }

    @Test void unreachableEndpointIsOneLine() {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = PullCommand.run(new String[]{REPO, "--dir", weights.toString(), "--endpoint", "http://127.0.0.1:1"},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(e), Map.of(), false);
        assertEquals(1, code);
        assertEquals(1, e.toString().strip().lines().count(), e.toString());
        assertTrue(e.toString().startsWith("pull: cannot reach the hub at http://127.0.0.1:1 (ConnectException); without network, "
                + "use a model on disk: jdiffusion generate -m PATH"), e.toString());
    }
}

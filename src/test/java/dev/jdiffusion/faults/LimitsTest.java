package dev.jdiffusion.faults;

import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.MemoryEstimate;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Requests beyond the limits (prompt length, heap) are refused before anything is computed or allocated. */
class LimitsTest {
    static StableDiffusion sd;

    @BeforeAll static void load() { sd = StableDiffusion.load(Tiny.sd1()); }

    @AfterAll static void close() { sd.close(); }

    /** A progress listener that counts steps: a refused request must not run any. */
    static final class Steps {
        final AtomicInteger n = new AtomicInteger();
    }

    static String words(int n) {
        return "cat ".repeat(n).strip();
    }

    @Test void promptsOfMoreThanSixteenChunksAreRefused() {
        int max = GenerationRequest.MAX_PROMPT_CHUNKS;
        Steps steps = new Steps();
        // "cat" is one token: 16 chunks of 75 fit, one more token does not
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sd.generate(Tiny.small(1)
                .prompt(words(max * 75 + 1)).progress(ev -> steps.n.incrementAndGet()).build()));
        assertTrue(e.getMessage().contains(max * 75 + 1 + " tokens") && e.getMessage().contains("at most " + max + " chunks"), e.getMessage());
        assertEquals(0, steps.n.get(), "a refused request ran steps");
        // the negative prompt too (it is encoded only with classifier-free guidance, which the tiny SD1 uses)
        e = assertThrows(IllegalArgumentException.class, () -> sd.generate(Tiny.small(1).negativePrompt(words(max * 75 + 10)).build()));
        assertTrue(e.getMessage().contains("chunks"), e.getMessage());
        // exactly the limit runs
        assertEquals(1, sd.generate(Tiny.small(1).steps(1).prompt(words(max * 75)).build()).images().size());
    }

    @Test void aRequestThatCannotFitTheHeapIsRefusedWithTheNumbers() {
        // 16 images of 4096 x 4096: the output images alone are 3 GiB, twice; the test JVM has -Xmx6g
        GenerationRequest huge = Tiny.small(1).size(GenerationRequest.MAX_SIDE, GenerationRequest.MAX_SIDE)
                .batch(GenerationRequest.MAX_BATCH).build();
        MemoryEstimate est = sd.estimateMemory(huge);
        assertTrue(est.total() > Runtime.getRuntime().maxMemory(), "estimate " + est);
        Steps steps = new Steps();
        long t0 = System.nanoTime();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sd.generate(
                GenerationRequest.builder("a").size(4096, 4096).batch(16).steps(3).seed(1).progress(ev -> steps.n.incrementAndGet()).build()));
        String m = e.getMessage();
        assertTrue(m.contains("4096x4096, batch 16") && m.contains("GiB") && m.contains("smaller size or batch"), m);
        // the heap maximum, or the machine's memory where that is the smaller (then more heap would not help)
        long physical = MemoryEstimate.physicalMemory();
        if (physical > 0 && est.resident() > physical) assertTrue(m.contains("this machine has") && !m.contains("-Xmx"), m);
        else assertTrue(m.contains("heap maximum") && m.contains("JDIFFUSION_JAVA_OPTS=-Xmx"), m);
        assertFalse(m.contains("\n"), "one line: " + m);
        assertEquals(0, steps.n.get());
        assertTrue(System.nanoTime() - t0 < 20_000_000_000L, "the refusal must come before the work");
    }

    @Test void theEstimateGrowsWithSizeBatchGuidanceAndPrompt() {
        MemoryEstimate a = sd.estimateMemory(Tiny.small(1).build());
        MemoryEstimate wide = sd.estimateMemory(Tiny.small(1).size(256, 256).build());
        MemoryEstimate batch = sd.estimateMemory(Tiny.small(1).batch(4).build());
        MemoryEstimate noCfg = sd.estimateMemory(Tiny.small(1).guidanceScale(1f).build());
        MemoryEstimate longPrompt = sd.estimateMemory(Tiny.small(1).prompt(words(600)).build());
        assertTrue(wide.unet() > 10 * a.unet() && wide.vae() > 10 * a.vae(), a + " vs " + wide);
        assertTrue(batch.unet() > 2 * a.unet() && batch.vae() > 3 * a.vae() / 2, a + " vs " + batch);
        assertTrue(noCfg.unet() < a.unet() && noCfg.textEncoder() < a.textEncoder(), a + " vs " + noCfg);
        assertTrue(longPrompt.textEncoder() > 5 * a.textEncoder(), a + " vs " + longPrompt);
        assertTrue(a.total() < 64L << 20, "the tiny model at 64x64 needs little: " + a);
        // the check itself: over the limit fails with both numbers, at the limit passes
        a.check(a.heap(), a.resident(), "64x64");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.check(a.heap() - 1, 64L << 30, "64x64"));
        assertTrue(e.getMessage().contains("heap maximum is") && e.getMessage().contains("-Xmx1g"), e.getMessage());
        // physical memory short: no -Xmx advice (more heap would not help), a smaller size instead
        e = assertThrows(IllegalArgumentException.class, () -> a.check(64L << 30, a.resident() - 1, "64x64"));
        assertTrue(e.getMessage().contains("this machine has") && e.getMessage().contains("smaller size") && !e.getMessage().contains("-Xmx"), e.getMessage());
    }

    /**
     * A request's ControlNets count: their weights in the resident pages (once per ControlNet, however many controls
     * use it), the residuals they hand the U-Net in the step's heap.
     */
    @Test void controlNetsCountInTheEstimate() throws Exception {
        Path cnDir = dev.jdiffusion.golden.Golden.resolve("models/tiny-controlnet");
        long files = 0;
        try (var s = Files.list(cnDir)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".safetensors")).toList()) files += Files.size(p);
        }
        try (dev.jdiffusion.pipeline.ControlNet cn = dev.jdiffusion.pipeline.ControlNet.load(cnDir)) {
            Tensor image = Tensor.zeros(1, 3, 64, 64);
            MemoryEstimate none = sd.estimateMemory(Tiny.small(1).build());
            MemoryEstimate one = sd.estimateMemory(Tiny.small(1).control(cn, image).build());
            MemoryEstimate twice = sd.estimateMemory(Tiny.small(1).control(cn, image).control(cn, image, 0.5f, 0f, 1f).build());
            long added = one.weights() - none.weights();
            assertTrue(added > files * 9 / 10 && added <= files, "the ControlNet's weights (" + files + " bytes of files): " + added);
            assertTrue(one.unet() > none.unet(), none + " vs " + one);
            assertTrue(one.resident() > none.resident() && one.heap() >= none.heap(), none + " vs " + one);

            assertEquals(one.weights(), twice.weights(), "one ControlNet used twice maps its weights once");
        }
    }

    @Test void initImagesBeyondTheLargestSideAreRefused() {
        Tensor tall = Tensor.zeros(1, 3, GenerationRequest.MAX_SIDE + 8, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> sd.generate(GenerationRequest.builder("a").initImage(tall).steps(2).seed(1).build()));
        assertTrue(e.getMessage().contains("init image") && e.getMessage().contains(String.valueOf(GenerationRequest.MAX_SIDE)), e.getMessage());
    }

    @Test void theCliPrintsOneLineForARequestThatCannotFit(@TempDir Path dir) {
        Tiny.Result r = Tiny.cli("generate", "-m", Tiny.sd1().toString(), "-p", "a", "-W", "4096", "-H", "4096", "--batch", "16",
                "--steps", "2", "-q", "-o", dir.resolve("out.png").toString());
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("not enough memory") && (r.err().contains("-Xmx") || r.err().contains("this machine has")), r.err());
        assertFalse(Files.exists(dir.resolve("out-1.png")));
    }
}

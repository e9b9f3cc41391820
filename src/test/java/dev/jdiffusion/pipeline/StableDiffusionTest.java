package dev.jdiffusion.pipeline;

import dev.jdiffusion.sampling.Schedulers;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

import static dev.jdiffusion.pipeline.TinyModels.assertImages;
import static dev.jdiffusion.pipeline.TinyModels.assertUnit;
import static dev.jdiffusion.pipeline.TinyModels.gradient;
import static dev.jdiffusion.pipeline.TinyModels.same;
import static dev.jdiffusion.pipeline.TinyModels.small;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Text-to-image and image-to-image behaviour of {@link StableDiffusion} on the tiny golden models. */
class StableDiffusionTest {
    static StableDiffusion sd;

    @BeforeAll static void load() {
        sd = StableDiffusion.load(TinyModels.sd1());   // no warm-up: a cold run computes the same bits (ColdStartTest)
    }

    @AfterAll static void close() { sd.close(); }

    // ---- 1. determinism

    @Test void sameSeedGivesTheSameImageAcrossRunsAndThreadCounts() {
        GenerationRequest req = small("a red cabin in the snow", 7).build();
        Tensor first = sd.generate(req).images().get(0);
        assertTrue(same(first, sd.generate(req).images().get(0)), "second run differs");
        // models with their own compute pools (ModelOptions.threads) give the same bits
        for (int t : new int[]{1, 2, 3}) {
            try (StableDiffusion m = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withThreads(t))) {
                assertEquals(t, m.threads());
                m.generate(small("warm up", 0).build());
                assertTrue(same(first, m.generate(req).images().get(0)), t + " threads differ from " + sd.threads() + " threads");
            }
        }
        Tensor other = sd.generate(small("a red cabin in the snow", 8).build()).images().get(0);
        assertFalse(same(first, other), "another seed gives the same image");
    }

    /** Image k of a batch equals the image its own latents give alone: no batch entry leaks into another (CFG batch included). */
    @Test void imageKOfABatchEqualsItsLatentsAlone() {
        int n = 3, lc = sd.components().unet().config().inChannels(), side = 64 / sd.components().vae().spatialFactor();
        Tensor latents = new dev.jdiffusion.sampling.TorchGenerator(21).randn(n, lc, side, side);
        GenerationRequest.Builder req = small("a lighthouse", 21).sampler("euler");
        GenerationResult batch = sd.generate(req.batch(n).build(), latents, null, null);
        int per = latents.numel() / n;
        for (int k = 0; k < n; k++) {
            float[] zk = java.util.Arrays.copyOfRange(latents.data(), k * per, (k + 1) * per);
            Tensor alone = sd.generate(req.batch(1).build(), new Tensor(zk, 1, lc, side, side), null, null).images().get(0);
            assertTrue(same(alone, batch.images().get(k)), "image " + k + " of the batch differs from it alone: max diff "
                    + TinyModels.maxDiff(alone, batch.images().get(k)));
        }
    }

    @Test void batchImagesAreDistinctAndReproducible() {
        // diffusers' one generator for the whole [B, 4, h, w] latent (shared batch noise): image 0's latents are the
        // single run's draws and image 1 continues the same random stream
        GenerationRequest req = small("a lighthouse", 11).sampler("euler").batch(2).sharedBatchNoise(true).build();
        GenerationResult a = sd.generate(req), b = sd.generate(req);
        assertImages(a.images(), 2, 64, 64);
        assertFalse(same(a.images().get(0), a.images().get(1)), "batch images are equal");
        for (int i = 0; i < 2; i++) assertTrue(same(a.images().get(i), b.images().get(i)), "batch image " + i + " not reproducible");
        assertEquals(11, a.seed());
        Tensor single = sd.generate(small("a lighthouse", 11).sampler("euler").build()).images().get(0);
        assertTrue(same(single, a.images().get(0)), "batch image 0 differs from the single run: max diff "
                + TinyModels.maxDiff(single, a.images().get(0)));
        assertFalse(same(single, a.images().get(1)));
        assertTrue(a.parameters(1).contains("Seed: 11, ") && a.parameters(1).contains("Batch pos: 1"), a.parameters(1));
    }

    /** The default: image i of a batch is the single-image run of seed + i, and its parameters say that seed. */
    @Test void everyBatchImageHasItsOwnSeed() {
        for (String sampler : List.of("euler_a", "ddim")) { // ancestral: fresh noise each step, per image too
            GenerationResult batch = sd.generate(small("a lighthouse", 7).sampler(sampler).batch(3).build());
            for (int i = 0; i < 3; i++) {
                assertTrue(batch.parameters(i).contains("Seed: " + (7 + i) + ","), batch.parameters(i));
                Tensor alone = sd.generate(small("a lighthouse", 7 + i).sampler(sampler).build()).images().get(0);
                assertTrue(same(alone, batch.images().get(i)), sampler + ": batch image " + i + " differs from seed " + (7 + i)
                        + " alone: max diff " + TinyModels.maxDiff(alone, batch.images().get(i)));
            }
        }
    }

    @Test void unsetSeedIsDrawnAndReported() {
        GenerationResult r = sd.generate(GenerationRequest.builder("x").size(64, 64).steps(2).build());
        assertTrue(r.parameters().contains("Seed: " + r.seed()), r.parameters());
        Tensor again = sd.generate(small("x", r.seed()).steps(2).build()).images().get(0);
        assertTrue(same(r.images().get(0), again), "the reported seed does not reproduce the image");
    }

    // ---- 2. samplers

    @Test void everySamplerRunsEndToEnd() {
        List<Tensor> images = new ArrayList<>();
        for (String name : Schedulers.NAMES) {
            GenerationResult r = sd.generate(small("a bowl of fruit", 3).sampler(name).steps(3).build());
            assertImages(r.images(), 1, 64, 64);
            assertTrue(r.parameters().contains("Sampler: " + Schedulers.displayName(name) + ","), r.parameters());

            for (Tensor prev : images) assertFalse(same(prev, r.images().get(0)), name + " gives the same image as another sampler");
            images.add(r.images().get(0));
        }
        // case does not matter
        assertTrue(same(images.get(1), sd.generate(small("a bowl of fruit", 3).sampler("DDIM").steps(3).build()).images().get(0)));
    }

    @Test void ddimWithEtaIsStochasticButSeeded() {
        GenerationRequest eta = small("a bowl of fruit", 3).sampler("ddim").eta(0.7f).build();
        Tensor a = sd.generate(eta).images().get(0);
        assertImages(List.of(a), 1, 64, 64);
        assertTrue(same(a, sd.generate(eta).images().get(0)), "eta run not reproducible");
        Tensor plain = sd.generate(small("a bowl of fruit", 3).sampler("ddim").build()).images().get(0);
        assertFalse(same(a, plain), "eta has no effect");
    }

    @Test void etaWithAnotherSamplerIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> sd.generate(small("x", 1).sampler("euler").eta(0.5f).build()));
        assertTrue(e.getMessage().contains("eta") && e.getMessage().contains("ddim"), e.getMessage());
        // the family's default sampler (euler_a) is not DDIM either
        assertThrows(IllegalArgumentException.class, () -> sd.generate(small("x", 1).eta(0.5f).build()));
    }

    @Test void lcmRunsOnTheLcmModel() {
        try (StableDiffusion lcm = StableDiffusion.load(TinyModels.lcm())) {
            assertEquals(ModelFamily.LCM, lcm.family());
            GenerationRequest req = GenerationRequest.builder("a fox").size(64, 64).seed(5).build();
            assertEquals(new StableDiffusion.Resolved("lcm", 4, 8f, 64, 64, 5), lcm.resolve(req));
            GenerationResult r = lcm.generate(req);
            assertImages(r.images(), 1, 64, 64);
            assertTrue(same(r.images().get(0), lcm.generate(req).images().get(0)));
            Tensor w2 = lcm.generate(GenerationRequest.builder("a fox").size(64, 64).seed(5).guidanceScale(2f).build()).images().get(0);
            assertFalse(same(r.images().get(0), w2), "the guidance embedding has no effect");
        }
    }

    // ---- 3. classifier-free guidance

    @Test void guidanceAndNegativePromptChangeTheImage() {
        Tensor noCfg = sd.generate(small("a castle", 4).guidanceScale(1f).build()).images().get(0);
        Tensor cfg = sd.generate(small("a castle", 4).guidanceScale(7.5f).build()).images().get(0);
        assertFalse(same(noCfg, cfg), "guidance 1 and 7.5 give the same image");
        Tensor neg = sd.generate(small("a castle", 4).guidanceScale(7.5f).negativePrompt("blurry, dark").build()).images().get(0);
        assertFalse(same(cfg, neg), "the negative prompt has no effect under CFG");
        // without CFG the negative prompt is not used at all
        Tensor negNoCfg = sd.generate(small("a castle", 4).guidanceScale(1f).negativePrompt("blurry, dark").build()).images().get(0);
        assertTrue(same(noCfg, negNoCfg), "the negative prompt changed a guidance-1 run");
    }

    // ---- 5. image-to-image

    @Test void imageToImageRunsStrengthTimesStepsAndDiffersFromTextToImage() {
        Tensor init = gradient(64, 64);
        List<ProgressEvent> half = new ArrayList<>(), full = new ArrayList<>();
        GenerationRequest.Builder b = GenerationRequest.builder("a field").seed(9).steps(4).sampler("euler").initImage(init);
        GenerationResult r5 = sd.generate(b.strength(0.5f).progress(half::add).build());
        GenerationResult r10 = sd.generate(b.strength(1f).progress(full::add).build());
        assertImages(r5.images(), 1, 64, 64);
        assertImages(r10.images(), 1, 64, 64);
        assertEquals(2, half.size());
        assertEquals(2, half.get(0).total());
        assertEquals(4, full.size());
        assertTrue(r5.parameters().contains("Denoising strength: 0.5"), r5.parameters());
        Tensor t2i = sd.generate(GenerationRequest.builder("a field").seed(9).steps(4).sampler("euler").size(64, 64).build()).images().get(0);
        assertFalse(same(t2i, r5.images().get(0)));
        assertFalse(same(t2i, r10.images().get(0)), "strength 1 ignores the init image entirely? it still encodes it");
        assertFalse(same(r5.images().get(0), r10.images().get(0)));
        // reproducible, and the size comes from the init image when unset
        assertTrue(same(r5.images().get(0), sd.generate(b.strength(0.5f).progress(null).build()).images().get(0)));
    }

    @Test void imageToImageFromAPreviousResult() {
        Tensor first = sd.generate(small("a tree", 2).build()).images().get(0);
        GenerationResult r = sd.generate(small("a tree at night", 2).initImage(TinyModels.batched(first)).strength(0.6f).batch(2).build());
        assertImages(r.images(), 2, 64, 64);
        assertFalse(same(r.images().get(0), r.images().get(1)), "batch images share their noise");
        // each image-to-image batch image is its seed's single run, the VAE's sample included
        Tensor alone = sd.generate(small("a tree at night", 3).initImage(TinyModels.batched(first)).strength(0.6f).build()).images().get(0);
        assertTrue(same(alone, r.images().get(1)), "image 1 differs from seed 3 alone: " + TinyModels.maxDiff(alone, r.images().get(1)));
    }

    @Test void initImageSizeMismatchIsRejected() {
        GenerationRequest req = small("x", 1).size(64, 64).initImage(gradient(32, 64)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sd.generate(req));
        assertTrue(e.getMessage().contains("init image"), e.getMessage());
        GenerationRequest odd = GenerationRequest.builder("x").steps(2).initImage(gradient(60, 64)).build();
        e = assertThrows(IllegalArgumentException.class, () -> sd.generate(odd));
        assertTrue(e.getMessage().contains("multiples of 8"), e.getMessage());
    }

    @Test void strengthThatLeavesNoStepIsRejectedBeforeAnyWork() {
        List<ProgressEvent> ev = new ArrayList<>();
        boolean[] encoded = {false};
        GenerationRequest req = GenerationRequest.builder("x").seed(1).steps(4).sampler("euler").initImage(gradient(64, 64))
                .strength(0.2f).progress(ev::add).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sd.generate(req, null, null, new StableDiffusion.StepTrace() {
            @Override public void onStep(int step, Tensor in, Tensor out, Tensor latents, Tensor denoised) {}

            @Override public void onEmbeddings(Tensor embeddings) { encoded[0] = true; }
        }));
        assertTrue(e.getMessage().contains("strength"), e.getMessage());
        assertFalse(encoded[0], "the text encoder ran before the request was rejected");
        // 5 steps x 0.2 = 1 step
        ev.clear();
        sd.generate(GenerationRequest.builder("x").seed(1).steps(5).sampler("euler").initImage(gradient(64, 64)).strength(0.2f).progress(ev::add).build());
        assertEquals(1, ev.size());
    }

    @Test void resultsAreImmutable() {
        GenerationResult r = sd.generate(small("x", 1).steps(1).build());
        assertThrows(UnsupportedOperationException.class, () -> r.images().clear());
        assertThrows(UnsupportedOperationException.class, () -> r.timings().clear());
        assertTrue(r.timings().keySet().containsAll(List.of("text_encoder", "unet", "vae", "total")));
    }

    @Test void lcmImageToImage() {
        try (StableDiffusion lcm = StableDiffusion.load(TinyModels.lcm())) {
            List<ProgressEvent> ev = new ArrayList<>();
            GenerationRequest req = GenerationRequest.builder("a fox").seed(5).steps(4).initImage(gradient(64, 64)).strength(0.5f)
                    .progress(ev::add).build();
            GenerationResult r = lcm.generate(req);
            assertImages(r.images(), 1, 64, 64);
            assertFalse(ev.isEmpty());
            assertEquals(ev.size(), ev.get(0).total());
            assertTrue(ev.size() <= 4, "LCM img2img ran " + ev.size() + " steps for 4 asked");
            Tensor t2i = lcm.generate(GenerationRequest.builder("a fox").seed(5).steps(4).size(64, 64).build()).images().get(0);
            assertFalse(same(t2i, r.images().get(0)));
        }
    }

    // ---- 6. progress, previews, cancellation

    @Test void oneProgressEventPerStep() {
        List<ProgressEvent> ev = new ArrayList<>();
        sd.generate(small("x", 1).steps(4).progress(ev::add).build());
        assertEquals(4, ev.size());
        for (int i = 0; i < 4; i++) {
            ProgressEvent e = ev.get(i);
            assertEquals(i + 1, e.step());
            assertEquals(4, e.total());
            assertFalse(e.remaining().isNegative());
            assertFalse(e.elapsed().isNegative());
            assertNull(e.preview(), "a preview nobody asked for");
        }
        assertTrue(ev.get(3).remaining().isZero());
    }

    @Test void previewsWithAndWithoutTaesd() {
        for (String sampler : List.of("euler_a", "lcm")) {
            List<ProgressEvent> ev = new ArrayList<>();
            sd.generate(small("x", 1).sampler(sampler).batch(2).size(64, 48).previews(true).progress(ev::add).build());
            assertEquals(3, ev.size());
            for (ProgressEvent e : ev) {
                assertNotNull(e.preview());
                assertArrayEquals(new int[]{2, 3, 6, 8}, e.preview().shape(), "latent preview shape");
                assertUnit(e.preview());
            }
        }
        try (StableDiffusion withTaesd = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withTaesd(TinyModels.taesd()))) {
            List<ProgressEvent> ev = new ArrayList<>();
            GenerationResult r = withTaesd.generate(small("x", 1).batch(2).size(64, 48).previews(true).progress(ev::add).build());
            assertEquals(3, ev.size());
            for (ProgressEvent e : ev) {
                assertArrayEquals(new int[]{2, 3, 48, 64}, e.preview().shape(), "TAESD preview shape");
                assertUnit(e.preview());
            }
            // TAESD only previews: the final image is still the full VAE's
            assertTrue(same(r.images().get(0), sd.generate(small("x", 1).batch(2).size(64, 48).build()).images().get(0)));
        }
    }

    @Test void cancellingFromTheListenerEndsTheRunAndTheModelStillWorks() {
        GenerationRequest plain = small("a boat", 21).steps(6).build();
        Tensor before = sd.generate(plain).images().get(0);
        CancellationToken token = new CancellationToken();
        List<Integer> steps = new ArrayList<>();
        GenerationRequest req = small("a boat", 21).steps(6).cancellation(token).progress(e -> {
            steps.add(e.step());
            if (e.step() == 2) token.cancel();
        }).build();
        assertThrows(CancellationException.class, () -> sd.generate(req));
        assertEquals(List.of(1, 2), steps, "steps ran after the cancel");
        assertTrue(same(before, sd.generate(plain).images().get(0)), "the model changed after a cancelled run");
        // a token cancelled up front stops the run before any step
        steps.clear();
        assertThrows(CancellationException.class, () -> sd.generate(req));
        assertTrue(steps.isEmpty());
    }

    private static double meanDiff(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.numel(); i++) s += Math.abs(a.data()[i] - b.data()[i]);
        return s / a.numel();
    }
}

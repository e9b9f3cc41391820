package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Releasing weight pages and low-memory mode: memory goes down, results do not change. */
class LowMemoryTest {

    private static long rssFile() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status")))
            if (l.startsWith("RssFile:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        return -1;
    }

    @Test void releasedWeightPagesLeaveTheResidentSetAndReadTheSame(@TempDir Path tmp) throws Exception {
        assumeTrue(WeightPages.available() && Files.isReadable(Path.of("/proc/self/status")), "needs Linux madvise and /proc");
        int n = 16 << 20; // 64 MB of F32
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i * 0.5f;
        Path f = tmp.resolve("w.safetensors");
        SafetensorsWriter.write(f, Map.of("big", new Tensor(v, n)), DType.F32, Map.of());
        v = null;
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            WeightPages pages = new WeightPages(s);
            double sum = 0;
            float[] buf = new float[1 << 16];
            for (int off = 0; off < n; off += buf.length) {
                s.get("big").readFloats(off, buf, 0, buf.length);
                sum += buf[buf.length - 1];
            }
            long touched = rssFile();
            assertTrue(pages.releaseAll());
            long released = rssFile();
            assertTrue(touched - released > 48L << 20, "RssFile went from " + touched + " to " + released);
            assertEquals(12345.5f, s.get("big").getFloat(24691));
            double again = 0;
            for (int off = 0; off < n; off += buf.length) {
                s.get("big").readFloats(off, buf, 0, buf.length);
                again += buf[buf.length - 1];
            }
            assertEquals(sum, again);
            assertTrue(pages.release("no.such.prefix"), "an empty prefix set is a no-op");
        }
    }

    @Test void lowMemoryModeGivesTheSameImagesWhenTheDecodeIsNotTiled() {
        GenerationRequest req = TinyModels.small("a red cabin in the snow", 5).build();
        Tensor normal, low;
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()))) {
            normal = sd.generate(req).images().get(0);
            normal = sd.generate(req).images().get(0); // pages released after the first run are mapped again
        }
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withLowMemory(true))) {
            assertTrue(sd.components().lowMemory());
            if (WeightPages.available()) assertNotNull(sd.components().unetModuleListener());
            low = sd.generate(req).images().get(0);
            assertTrue(TinyModels.same(low, sd.generate(req).images().get(0)), "low-memory run not reproducible");
        }
        assertTrue(TinyModels.same(normal, low), "low-memory image differs: max diff " + TinyModels.maxDiff(normal, low));
    }

    @Test void lowMemoryModeTilesLargeDecodes() {
        int side = 8 * (ModelComponents.LOW_MEMORY_TILE + 8);
        GenerationRequest req = TinyModels.small("a lighthouse", 3).size(side, side).steps(1).build();
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(TinyModels.sd1()).withLowMemory(true))) {
            TinyModels.assertImages(sd.generate(req).images(), 1, side, side);
            assertEquals(dev.jdiffusion.model.vae.AutoencoderKL.Tiling.ON, sd.components().vae().tiling());
        }
    }

    @Test void everyUnetTensorBelongsToAModuleTheListenerNames() {
        java.util.List<String> done = new java.util.ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(TinyModels.sd1())) {
            var src = ck.tensors(Checkpoint.UNET);
            var unet = dev.jdiffusion.model.unet.UNet2DConditionModel.load(src, ck.config(Checkpoint.UNET));
            var c = unet.config();
            unet.forward(Tensor.zeros(1, c.inChannels(), 8, 8), new float[]{10f}, Tensor.zeros(1, 3, c.crossAttentionDim()), null, null, done::add);
            for (String name : src.names())
                assertTrue(done.stream().anyMatch(m -> name.startsWith(m + ".")), name + " is in no module the listener was told about");
        }
    }
}

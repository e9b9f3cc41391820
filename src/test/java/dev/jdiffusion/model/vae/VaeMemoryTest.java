package dev.jdiffusion.model.vae;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.kernels.Upsample;
import dev.jdiffusion.model.unet.Conv;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The memory-saving paths of the decoder compute exactly what the plain ones do. */
class VaeMemoryTest {

    private static TensorSource conv(int cin, int cout, int k, long seed, Arena arena) {
        Random r = new Random(seed);
        Map<String, TensorView> m = new LinkedHashMap<>();
        long[][] shapes = {{cout, cin, k, k}, {cout}};
        String[] names = {"c.weight", "c.bias"};
        for (int t = 0; t < 2; t++) {
            long n = 1;
            for (long d : shapes[t]) n *= d;
            MemorySegment seg = arena.allocate(4 * n);
            for (long i = 0; i < n; i++) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 * i, (float) r.nextGaussian());
            m.put(names[t], new TensorView(names[t], "memory", DType.F32, shapes[t], seg));
        }
        return new TensorSource() {
            @Override public Set<String> names() { return m.keySet(); }
            @Override public TensorView find(String name) { return m.get(name); }
            @Override public String description() { return "memory"; }
        };
    }

    @Test
    void bandedUpsampleConvEqualsConvOfTheUpsampledInput() {
        try (Arena arena = Arena.ofShared()) {
            Conv c = Conv.load(conv(5, 7, 3, 1, arena), "c", 1);
            Tensor x = VaeTestData.latent(2, 5, 6, 9, 3);
            Tensor big = Tensor.zeros(2, 5, 12, 18);
            Upsample.nearest2x(x.data(), 2, 5, 6, 9, big.data());
            float[] expected = c.forward(big).data();
            for (int band : new int[]{1, 5 * 18 * 2, 5 * 18 * 5, 1 << 22})
                assertArrayEquals(expected, c.forwardUpsampled2x(x, band).data(), "band of " + band + " floats");
        }
    }

    /** The same with a conv wide enough for Winograd: its bands run Winograd too (on an even number of rows) and agree. */
    @Test
    void bandedUpsampleConvTakesTheWinogradPathOfTheWholeImage() {
        try (Arena arena = Arena.ofShared()) {
            int ch = 64, h = 10, w = 12;
            TensorSource s = conv(ch, ch, 3, 2, arena);
            assertNotNull(Conv2d.winogradFilters(Matrix.of(s.get("c.weight")), ch, 2 * h, 2 * w), "the whole image runs Winograd");
            Conv c = Conv.load(s, "c", 1);
            Tensor x = VaeTestData.latent(2, ch, h, w, 4);
            Tensor big = Tensor.zeros(2, ch, 2 * h, 2 * w);
            Upsample.nearest2x(x.data(), 2, ch, h, w, big.data());
            float[] expected = c.forward(big).data();
            int row = ch * 2 * w;   // upsampled input floats per row
            for (int band : new int[]{1, row * 3, row * 5, row * 7, row * 20, 1 << 22})
                assertArrayEquals(expected, c.forwardUpsampled2x(x, band).data(), "band of " + band + " floats (" + row + " a row)");
        }
    }

    @Test
    void batchDecodesLikeEachImageAlone() {
        // the tiny VAE, and the wide one whose upper levels take the Winograd path
        for (Path dir : new Path[]{AutoencoderKLTest.VAE, Golden.resolve("models/tiny-vae-wide")})
            try (TensorSource s = Checkpoint.openWeights(dir)) {
                AutoencoderKL vae = AutoencoderKL.load(s, Golden.json(dir.resolve("config.json")));
                int n = 3, h = 5, w = 6;
                Tensor z = VaeTestData.latent(n, vae.latentChannels(), h, w, 11);
                Tensor batched = vae.decodeInOnePass(z), looped = vae.decode(z, AutoencoderKL.Tiling.OFF);
                int per = z.numel() / n, img = batched.numel() / n;
                for (int i = 0; i < n; i++) {
                    float[] zi = java.util.Arrays.copyOfRange(z.data(), i * per, (i + 1) * per);
                    Tensor alone = vae.decodeInOnePass(new Tensor(zi, 1, z.dim(1), h, w));
                    assertArrayEquals(alone.data(), java.util.Arrays.copyOfRange(batched.data(), i * img, (i + 1) * img),
                            dir.getFileName() + ": image " + i + " of a batch through the layers differs from it alone");
                    assertArrayEquals(alone.data(), java.util.Arrays.copyOfRange(looped.data(), i * img, (i + 1) * img),
                            dir.getFileName() + ": image " + i + " of decode(batch) differs from it alone");
                }
            }
    }
}

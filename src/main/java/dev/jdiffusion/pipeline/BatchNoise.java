package dev.jdiffusion.pipeline;

import dev.jdiffusion.sampling.NoiseSource;
import dev.jdiffusion.sampling.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;

import java.util.Arrays;

/**
 * The noise of one generation. Per image (the default): image i of a batch draws from its own generator seeded with
 * seed + i, so every draw of a batch-shaped tensor is the per-image draws stacked, and image i is exactly what a
 * single-image run of seed + i draws. Shared ({@link GenerationRequest#sharedBatchNoise()}): one generator of the
 * seed draws the whole batch, as diffusers does. With one image both are the same generator.
 */
final class BatchNoise implements NoiseSource {
    private final TorchGenerator[] gens;

    private BatchNoise(TorchGenerator[] gens) { this.gens = gens; }

    static BatchNoise of(long seed, int batch, boolean shared) {
        TorchGenerator[] g = new TorchGenerator[shared ? 1 : batch];
        for (int i = 0; i < g.length; i++) g[i] = new TorchGenerator(seed + i);
        return new BatchNoise(g);
    }

    /** The seed of image i: seed + i per image, the batch's seed when shared. */
    static long imageSeed(long seed, int i, boolean shared) { return shared ? seed : seed + i; }

    boolean perImage() { return gens.length > 1; }

    /** Standard normal noise of the shape; a per-image source needs the batch as the first dimension. */
    @Override public Tensor next(int... shape) {
        if (gens.length == 1) return gens[0].randn(shape);
        if (shape.length == 0 || shape[0] != gens.length)
            throw new IllegalStateException("per-image noise of shape " + Arrays.toString(shape) + " for a batch of " + gens.length);
        int[] one = shape.clone();
        one[0] = 1;
        int per = Arrays.stream(one).reduce(1, Math::multiplyExact);
        float[] d = new float[per * gens.length];
        for (int i = 0; i < gens.length; i++) System.arraycopy(gens[i].randn(one).data(), 0, d, i * per, per);
        return new Tensor(d, shape);
    }
}

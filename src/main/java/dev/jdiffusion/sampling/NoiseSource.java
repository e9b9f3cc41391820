package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * Where a sampler gets its Gaussian noise: the initial latents and, for stochastic schedulers (DDIM with eta &gt; 0,
 * Euler ancestral, LCM), the fresh noise of each step. {@link TorchGenerator} draws it the way
 * {@code torch.randn(shape, generator=g)} does; tests replay recorded tensors through a lambda.
 */
@FunctionalInterface
public interface NoiseSource {
    /**
     * The next standard-normal tensor of the given shape; successive calls continue one stream.
     *
     * @param shape the dimensions, e.g. [batch, 4, h, w] for latents
     * @return a new tensor of independent N(0, 1) values
     */

    Tensor next(int... shape);
}

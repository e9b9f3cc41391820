/**
 * The samplers (schedulers) a request names (LCM, DDIM, Euler, Euler ancestral, DPM++ 2M with and without Karras
 * sigmas), the training noise schedule, and the seeded noise generator (PyTorch's CPU {@code torch.randn}).
 * Exported for the types the API's signatures use; the API chooses a sampler by name.
 */
package dev.jdiffusion.sampling;

/**
 * Images to and from files: PNG with the generation parameters in a text chunk, and the conversions between
 * the engine's [1, 3, H, W] float tensors in [0, 1] and 8-bit pixels ({@link dev.jdiffusion.image.Images}).
 */
package dev.jdiffusion.image;

/** The dense float tensor results and init images are given in ({@link dev.jdiffusion.tensor.Tensor}). */
package dev.jdiffusion.tensor;

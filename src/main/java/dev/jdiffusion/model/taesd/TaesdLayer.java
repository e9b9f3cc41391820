package dev.jdiffusion.model.taesd;

import dev.jdiffusion.tensor.Tensor;

/** One entry of a TAESD {@code nn.Sequential}. */
interface TaesdLayer {
    Tensor forward(Tensor x);

    /** Channels in, or -1 when the layer keeps any channel count. */
    default int inChannels() { return -1; }

    /** Channels out, or -1 when equal to the input's. */
    default int outChannels() { return -1; }

    /** Operations for an input of h x w (one image). */
    default long flops(int h, int w) { return 0; }

    /** Output height for input height h. */
    default int outSize(int h) { return h; }
}

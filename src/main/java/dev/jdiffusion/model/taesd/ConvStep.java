package dev.jdiffusion.model.taesd;

import dev.jdiffusion.model.unet.Conv;
import dev.jdiffusion.tensor.Tensor;

/** A plain {@code nn.Conv2d} entry of the Sequential. */
final class ConvStep implements TaesdLayer {
    final Conv conv;

    ConvStep(Conv conv) { this.conv = conv; }

    @Override public Tensor forward(Tensor x) { return conv.forward(x); }
    @Override public int inChannels() { return conv.inChannels(); }
    @Override public int outChannels() { return conv.outChannels(); }
    @Override public long flops(int h, int w) { return conv.flops(h, w); }
    @Override public int outSize(int h) { return conv.outHeight(h); }

    @Override public String toString() {
        return "Conv(" + conv.inChannels() + "->" + conv.outChannels() + ", k" + conv.kernel() + (conv.stride() > 1 ? ", stride " + conv.stride() : "")
                + (conv.hasBias() ? "" : ", no bias") + ")";
    }
}

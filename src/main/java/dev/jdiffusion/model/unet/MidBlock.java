package dev.jdiffusion.model.unet;

import dev.jdiffusion.tensor.Tensor;

/** diffusers' UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) once, at the lowest resolution. */
final class MidBlock {
    private final ResnetBlock2D first, second;
    private final Transformer2D attention;

    MidBlock(UNetWeights w, UNetConfig c, int tembDim) {
        int last = c.levels() - 1, ch = c.blockOutChannels()[last];
        first = new ResnetBlock2D(w, "mid_block.resnets.0", ch, ch, tembDim, c.normNumGroups(), c.normEps(), c.midBlockScaleFactor());
        attention = new Transformer2D(w, "mid_block.attentions.0", ch, c.attentionHeads()[last], c.transformerLayers()[last],
                c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection());
        second = new ResnetBlock2D(w, "mid_block.resnets.1", ch, ch, tembDim, c.normNumGroups(), c.normEps(), c.midBlockScaleFactor());
    }

    Tensor forward(Tensor x, float[] tembSilu, float[] context, int contextLen, Scratch s) {
        x = first.forward(x, tembSilu);
        s.done("mid_block.resnets.0");
        x = attention.forward(x, context, contextLen, s);
        s.done("mid_block.attentions.0");
        x = second.forward(x, tembSilu);
        s.done("mid_block.resnets.1");
        return x;
    }

    long flops(int batch, int h, int w, int contextLen) {
        return first.flops(batch, h, w) + attention.flops(batch, h, w, contextLen) + second.flops(batch, h, w);
    }
}

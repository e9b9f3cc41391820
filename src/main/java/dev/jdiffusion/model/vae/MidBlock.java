package dev.jdiffusion.model.vae;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.TensorSource;

/** {@code UNetMidBlock2D} of the VAE: resnet, self-attention (absent in some VAEs), resnet. */
final class MidBlock {
    private final ResnetBlock first, second;
    private final MidAttention attention;

    private MidBlock(ResnetBlock first, MidAttention attention, ResnetBlock second) {
        this.first = first;
        this.attention = attention;
        this.second = second;
    }

    static MidBlock load(TensorSource s, String prefix, int groups, float eps) {
        ResnetBlock r0 = ResnetBlock.load(s, prefix + ".resnets.0", groups, eps);
        boolean hasAttn = s.contains(prefix + ".attentions.0.group_norm.weight");
        MidAttention a = hasAttn ? MidAttention.load(s, prefix + ".attentions.0", groups, eps, 0) : null;
        ResnetBlock r1 = ResnetBlock.load(s, prefix + ".resnets.1", groups, eps);
        return new MidBlock(r0, a, r1);
    }

    int channels() { return first.inChannels(); }

    long flops(int h, int w) { return first.flops(h, w) + (attention == null ? 0 : attention.flops(h, w)) + second.flops(h, w); }

    Tensor forward(Tensor x) {
        Tensor h = first.forward(x);
        if (attention != null) h = attention.forward(h);
        return second.forward(h);
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' mid blocks: resnet, attention, resnet at the lowest resolution. The U-Net's UNetMidBlock2DCrossAttn
 * runs a cross-attention transformer between the resnets; the VAE's UNetMidBlock2D a self-attention (absent in
 * some VAEs), and its resnets take no time embedding.
 */
public final class MidBlock {
    /** What runs between the two resnets: the U-Net's transformer, or the VAE's self-attention (which ignores the context). */
    public interface Attention {
        /** x [B, C, H, W] to the same shape; context [B, contextLen, dim] is the text conditioning (null without). */
        Tensor forward(Tensor x, float[] context, int contextLen, Scratch s);

        long flops(int batch, int h, int w, int contextLen);
    }

    private final String prefix;
    private final ResnetBlock2D first, second;
    private final Attention attention;

    /** A mid block of loaded parts; attention and the second resnet may be null. */
    public MidBlock(String prefix, ResnetBlock2D first, Attention attention, ResnetBlock2D second) {
        this.prefix = prefix;
        this.first = first;
        this.attention = attention;
        this.second = second;
    }

    /**
     * The U-Net's mid block, shapes as the config implies (problems recorded in w): resnet, transformer, resnet, or
     * one resnet alone for diffusers' {@code UNetMidBlock2D} (SSD-1B, Segmind Vega).
     */
    MidBlock(UNetWeights w, UNetConfig c, int tembDim) {
        this("mid_block", unetResnet(w, c, tembDim, 0),
                c.midAttention() ? new Transformer2D(w, "mid_block.attentions.0", c.blockOutChannels()[c.levels() - 1],
                        c.attentionHeads()[c.levels() - 1], c.midTransformerLayers(), c.crossAttentionDim(), c.normNumGroups(),
                        c.useLinearProjection()) : null,
                c.midAttention() ? unetResnet(w, c, tembDim, 1) : null);
    }

    private static ResnetBlock2D unetResnet(UNetWeights w, UNetConfig c, int tembDim, int i) {
        int ch = c.blockOutChannels()[c.levels() - 1];
        return new ResnetBlock2D(w, "mid_block.resnets." + i, ch, ch, tembDim, c.normNumGroups(), c.normEps(), c.midBlockScaleFactor());
    }

    public int channels() { return first.inChannels(); }

    /** A block without time embedding or context (the VAE's). */
    public Tensor forward(Tensor x) { return forward(x, null, null, 0, null); }

    /** tembSilu and context may be null (the VAE's); s, when not null, is told each module as it finishes. */
    Tensor forward(Tensor x, float[] tembSilu, float[] context, int contextLen, Scratch s) {
        x = first.forward(x, tembSilu);
        done(s, ".resnets.0");
        if (attention != null) {
            x = attention.forward(x, context, contextLen, s);
            done(s, ".attentions.0");
        }
        if (second != null) {
            x = second.forward(x, tembSilu);
            done(s, ".resnets.1");
        }
        return x;
    }

    private void done(Scratch s, String module) {
        if (s != null) s.done(prefix + module);
    }

    /** Multiply-adds times two for a batch of h x w inputs. */
    public long flops(int batch, int h, int w, int contextLen) {
        return first.flops(batch, h, w) + (attention == null ? 0 : attention.flops(batch, h, w, contextLen))
                + (second == null ? 0 : second.flops(batch, h, w));
    }
}

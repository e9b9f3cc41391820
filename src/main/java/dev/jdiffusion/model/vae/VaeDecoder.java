package dev.jdiffusion.model.vae;

import dev.jdiffusion.model.unet.Conv;
import dev.jdiffusion.model.unet.GroupNormLayer;
import dev.jdiffusion.model.unet.MidBlock;
import dev.jdiffusion.model.unet.ResnetBlock2D;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.TensorSource;

import java.util.ArrayList;
import java.util.List;

/**
 * The VAE decoder: {@code post_quant_conv} (1x1), {@code conv_in}, the mid block, up blocks (resnets, then
 * nearest 2x + conv except in the last block), GroupNorm + SiLU, {@code conv_out}. Structure read from the weights.
 */
final class VaeDecoder {
    private final Conv postQuantConv, convIn, convOut;
    private final MidBlock mid;
    private final List<List<ResnetBlock2D>> blocks = new ArrayList<>();
    private final List<Conv> upsamplers = new ArrayList<>();
    private final GroupNormLayer normOut;

    VaeDecoder(TensorSource s, int groups) {
        float eps = 1e-6f;
        postQuantConv = s.contains("post_quant_conv.weight") ? Conv.load(s, "post_quant_conv", 1) : null;
        convIn = Conv.load(s, "decoder.conv_in", 1);
        if (postQuantConv != null)
            Shapes.check(s, "post_quant_conv", postQuantConv.outChannels() == convIn.inChannels(),
                    "outputs " + postQuantConv.outChannels() + " channels but decoder.conv_in takes " + convIn.inChannels());
        int ch = convIn.outChannels();
        mid = MidAttention.midBlock(s, "decoder.mid_block", groups, eps);
        Shapes.check(s, "decoder.mid_block", mid.channels() == ch, "expects " + mid.channels() + " channels, gets " + ch);
        for (int i = 0; s.contains("decoder.up_blocks." + i + ".resnets.0.conv1.weight"); i++) {
            List<ResnetBlock2D> rs = new ArrayList<>();
            for (int j = 0; s.contains("decoder.up_blocks." + i + ".resnets." + j + ".conv1.weight"); j++) {
                ResnetBlock2D r = ResnetBlock2D.load(s, "decoder.up_blocks." + i + ".resnets." + j, groups, eps);
                Shapes.check(s, "decoder.up_blocks." + i + ".resnets." + j, r.inChannels() == ch, "expects " + r.inChannels() + " input channels, gets " + ch);
                ch = r.outChannels();
                rs.add(r);
            }
            blocks.add(rs);
            String u = "decoder.up_blocks." + i + ".upsamplers.0.conv";
            upsamplers.add(s.contains(u + ".weight") ? Conv.load(s, u, 1) : null);
        }
        Shapes.check(s, "decoder", !blocks.isEmpty(), "no decoder.up_blocks.*");
        normOut = GroupNormLayer.load(s, "decoder.conv_norm_out", groups, eps);
        convOut = Conv.load(s, "decoder.conv_out", 1);
    }

    /** Latent channels the decoder takes. */
    int latentChannels() { return postQuantConv != null ? postQuantConv.inChannels() : convIn.inChannels(); }

    int outChannels() { return convOut.outChannels(); }

    /** Image pixels per latent pixel along one side (8 for SD). */
    int upscale() {
        int f = 1;
        for (Conv u : upsamplers) if (u != null) f *= 2;
        return f;
    }

    /** Image [n, 3, h*f, w*f] (nominally [-1, 1]) of latents [n, c, h, w] already divided by the scaling factor. */
    Tensor forward(Tensor z) {
        Tensor h = postQuantConv == null ? z : postQuantConv.forward(z);
        h = convIn.forward(h);
        h = mid.forward(h);
        for (int i = 0; i < blocks.size(); i++) {
            for (ResnetBlock2D r : blocks.get(i)) h = r.forward(h, null, true);
            Conv up = upsamplers.get(i);
            if (up != null) h = up.forwardUpsampled2x(h);
        }
        normOut.forwardInPlace(h, true);
        return convOut.forward(h);
    }

    /** Floating-point operations of one decode of a h x w latent (one image). */
    long flops(int h, int w) {
        long f = (postQuantConv == null ? 0 : postQuantConv.flops(h, w)) + convIn.flops(h, w) + mid.flops(1, h, w, 0);
        for (int i = 0; i < blocks.size(); i++) {
            for (ResnetBlock2D r : blocks.get(i)) f += r.flops(1, h, w);
            if (upsamplers.get(i) != null) {
                h *= 2;
                w *= 2;
                f += upsamplers.get(i).flops(h, w);
            }
        }
        return f + convOut.flops(h, w);
    }
}

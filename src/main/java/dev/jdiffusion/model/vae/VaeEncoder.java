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
 * The VAE encoder: {@code conv_in}, down blocks (resnets, then a stride-2 conv after padding the right and bottom
 * by one, except in the last block), the mid block, GroupNorm + SiLU, {@code conv_out} to the moments
 * (2 x latent channels), then {@code quant_conv}. The block structure is read from the weights.
 */
final class VaeEncoder {
    private final Conv convIn, convOut, quantConv;
    private final List<List<ResnetBlock2D>> blocks = new ArrayList<>();
    private final List<Conv> downsamplers = new ArrayList<>();
    private final MidBlock mid;
    private final GroupNormLayer normOut;

    VaeEncoder(TensorSource s, int groups) {
        float eps = 1e-6f;
        convIn = Conv.load(s, "encoder.conv_in", 1);
        int ch = convIn.outChannels();
        for (int i = 0; s.contains("encoder.down_blocks." + i + ".resnets.0.conv1.weight"); i++) {
            List<ResnetBlock2D> rs = new ArrayList<>();
            for (int j = 0; s.contains("encoder.down_blocks." + i + ".resnets." + j + ".conv1.weight"); j++) {
                ResnetBlock2D r = ResnetBlock2D.load(s, "encoder.down_blocks." + i + ".resnets." + j, groups, eps);
                Shapes.check(s, "encoder.down_blocks." + i + ".resnets." + j, r.inChannels() == ch, "expects " + r.inChannels() + " input channels, gets " + ch);
                ch = r.outChannels();
                rs.add(r);
            }
            blocks.add(rs);
            String d = "encoder.down_blocks." + i + ".downsamplers.0.conv";
            downsamplers.add(s.contains(d + ".weight") ? Conv.load(s, d, 2, 0, 0, 1, 1) : null);
        }
        Shapes.check(s, "encoder", !blocks.isEmpty(), "no encoder.down_blocks.*");
        mid = MidAttention.midBlock(s, "encoder.mid_block", groups, eps);
        Shapes.check(s, "encoder.mid_block", mid.channels() == ch, "expects " + mid.channels() + " channels, gets " + ch);
        normOut = GroupNormLayer.load(s, "encoder.conv_norm_out", groups, eps);
        convOut = Conv.load(s, "encoder.conv_out", 1);
        quantConv = s.contains("quant_conv.weight") ? Conv.load(s, "quant_conv", 1) : null;
        Shapes.check(s, "encoder.conv_out", convOut.outChannels() % 2 == 0, "must output 2 x latent channels (mean and log-variance)");
    }

    int inChannels() { return convIn.inChannels(); }

    /** Channels of the moments (2 x latent channels). */
    int momentChannels() { return quantConv != null ? quantConv.outChannels() : convOut.outChannels(); }

    /** Moments [n, 2*latent, h', w'] of an image [n, 3, h, w] in [-1, 1]. */
    Tensor forward(Tensor x) {
        Tensor h = convIn.forward(x);
        for (int i = 0; i < blocks.size(); i++) {
            for (ResnetBlock2D r : blocks.get(i)) h = r.forward(h, null, false);
            if (downsamplers.get(i) != null) h = downsamplers.get(i).forward(h);
        }
        h = mid.forward(h);
        h = convOut.forward(normOut.forward(h, true));
        return quantConv == null ? h : quantConv.forward(h);
    }
}

package dev.jdiffusion.model.vae;

import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.TensorSource;

/**
 * diffusers' {@code ResnetBlock2D} without time embedding, as the VAE uses it:
 * {@code out = x' + conv2(silu(norm2(conv1(silu(norm1(x))))))} where x' is x, or a 1x1 {@code conv_shortcut(x)}
 * when the channel count changes (output_scale_factor 1, dropout off).
 */
final class ResnetBlock {
    private final GroupNormLayer norm1, norm2;
    private final ConvLayer conv1, conv2, shortcut;

    private ResnetBlock(GroupNormLayer norm1, ConvLayer conv1, GroupNormLayer norm2, ConvLayer conv2, ConvLayer shortcut) {
        this.norm1 = norm1;
        this.conv1 = conv1;
        this.norm2 = norm2;
        this.conv2 = conv2;
        this.shortcut = shortcut;
    }

    static ResnetBlock load(TensorSource s, String prefix, int groups, float eps) {
        GroupNormLayer n1 = GroupNormLayer.load(s, prefix + ".norm1", groups, eps);
        ConvLayer c1 = ConvLayer.load(s, prefix + ".conv1", 1);
        GroupNormLayer n2 = GroupNormLayer.load(s, prefix + ".norm2", groups, eps);
        ConvLayer c2 = ConvLayer.load(s, prefix + ".conv2", 1);
        ConvLayer sc = s.contains(prefix + ".conv_shortcut.weight") ? ConvLayer.load(s, prefix + ".conv_shortcut", 1) : null;
        Shapes.check(s, prefix + ".conv1", c1.inChannels() == n1.channels(), "input channels " + c1.inChannels() + " != norm1 channels " + n1.channels());
        Shapes.check(s, prefix + ".conv2", c2.inChannels() == c1.outChannels() && n2.channels() == c1.outChannels() && c2.outChannels() == c1.outChannels(),
                "channels of conv1/norm2/conv2 disagree");
        if (sc == null)
            Shapes.check(s, prefix, c1.inChannels() == c2.outChannels(), "changes channels " + c1.inChannels() + " -> " + c2.outChannels() + " but has no conv_shortcut");
        else
            Shapes.check(s, prefix + ".conv_shortcut", sc.inChannels() == c1.inChannels() && sc.outChannels() == c2.outChannels(), "shape disagrees with conv1/conv2");
        return new ResnetBlock(n1, c1, n2, c2, sc);
    }

    int inChannels() { return conv1.inChannels(); }
    int outChannels() { return conv2.outChannels(); }

    long flops(int h, int w) {
        return conv1.flops(h, w) + conv2.flops(h, w) + (shortcut == null ? 0 : shortcut.flops(h, w));
    }

    /**
     * The block's output; x is not modified. Two work tensors besides x and the output: conv2 writes into the buffer
     * of norm1's output when the sizes agree, and norm2 runs in place.
     */
    Tensor forward(Tensor x) { return forward(x, false); }

    /**
     * As {@link #forward(Tensor)}; when consume is set the caller no longer needs x and its buffer may be overwritten
     * (norm1 then runs in place when x is not itself the residual), one full-size tensor less.
     */
    Tensor forward(Tensor x, boolean consume) {
        Tensor skip = shortcut == null ? x : shortcut.forward(x);
        Tensor t;
        if (consume && shortcut != null) {
            norm1.forwardInPlace(x, true);
            t = x;
        } else {
            t = norm1.forward(x, true);
        }
        Tensor h = conv1.forward(t);
        norm2.forwardInPlace(h, true);
        Tensor out = t.numel() == h.numel() ? conv2.forward(h, t.data()) : conv2.forward(h);
        Elementwise.addInPlace(out.data(), skip.data(), out.numel());
        return out;
    }
}

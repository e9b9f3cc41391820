package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;

/**
 * diffusers' ResnetBlock2D: GroupNorm+SiLU -> conv3x3 [-> + time_emb_proj(SiLU(temb))] -> GroupNorm+SiLU -> conv3x3,
 * plus x or, when the channel count changes, a 1x1 conv_shortcut(x); the sum divided by the output scale factor
 * (dropout off). The U-Net's blocks take a time embedding; the VAE's ({@link #load}) have none and scale 1.
 */
public final class ResnetBlock2D {
    final int in, out;
    private final float outputScale;
    private final GroupNormLayer norm1, norm2;
    private final Conv conv1, conv2, shortcut;
    private final Linear timeEmbProj;

    private ResnetBlock2D(GroupNormLayer norm1, Conv conv1, Linear timeEmbProj, GroupNormLayer norm2, Conv conv2, Conv shortcut,
                          float outputScale) {
        this.in = conv1.in;
        this.out = conv2.out;
        this.norm1 = norm1;
        this.conv1 = conv1;
        this.timeEmbProj = timeEmbProj;
        this.norm2 = norm2;
        this.conv2 = conv2;
        this.shortcut = shortcut;
        this.outputScale = outputScale;
    }

    /** A U-Net block with a time embedding of tembDim, shapes as the config implies (problems recorded in w). */
    ResnetBlock2D(UNetWeights w, String p, int in, int out, int tembDim, int groups, float eps, float outputScale) {
        this(GroupNormLayer.of(w, p + ".norm1", in, groups, eps), Conv.same(w, p + ".conv1", in, out, 3),
                new Linear(w, p + ".time_emb_proj", tembDim, out, true),
                GroupNormLayer.of(w, p + ".norm2", out, groups, eps), Conv.same(w, p + ".conv2", out, out, 3),
                in != out ? Conv.same(w, p + ".conv_shortcut", in, out, 1) : null, outputScale);
        if (in % groups != 0 || out % groups != 0)
            w.problem(p + ": channels " + in + " -> " + out + " are not divisible by norm_num_groups " + groups);
    }

    /** A block without time embedding (the VAE's), shapes read from the file and checked against each other. */
    public static ResnetBlock2D load(TensorSource s, String prefix, int groups, float eps) {
        GroupNormLayer n1 = GroupNormLayer.load(s, prefix + ".norm1", groups, eps);
        Conv c1 = Conv.load(s, prefix + ".conv1", 1);
        GroupNormLayer n2 = GroupNormLayer.load(s, prefix + ".norm2", groups, eps);
        Conv c2 = Conv.load(s, prefix + ".conv2", 1);
        Conv sc = s.contains(prefix + ".conv_shortcut.weight") ? Conv.load(s, prefix + ".conv_shortcut", 1) : null;
        check(s, prefix + ".conv1", c1.in == n1.channels(), "input channels " + c1.in + " != norm1 channels " + n1.channels());
        check(s, prefix + ".conv2", c2.in == c1.out && n2.channels() == c1.out && c2.out == c1.out, "channels of conv1/norm2/conv2 disagree");
        if (sc == null)
            check(s, prefix, c1.in == c2.out, "changes channels " + c1.in + " -> " + c2.out + " but has no conv_shortcut");
        else
            check(s, prefix + ".conv_shortcut", sc.in == c1.in && sc.out == c2.out, "shape disagrees with conv1/conv2");
        return new ResnetBlock2D(n1, c1, null, n2, c2, sc, 1f);
    }

    private static void check(TensorSource s, String what, boolean ok, String message) {
        if (!ok) throw new ModelFormatException(s.description() + ": " + what + ": " + message);
    }

    public int inChannels() { return in; }
    public int outChannels() { return out; }

    /** x [B, in, H, W]; tembSilu = SiLU(time embedding) [B, tembDim] (null for a block without). x is not modified. */
    Tensor forward(Tensor x, float[] tembSilu) { return forward(x, tembSilu, false); }

    /**
     * The block's output. Two work tensors besides x and the output: conv2 writes into the buffer of norm1's
     * output when the sizes agree, and norm2 runs in place. When consume is set the caller no longer needs x and
     * its buffer may be overwritten (norm1 then runs in place when x is not itself the residual), one full-size
     * tensor less.
     */
    public Tensor forward(Tensor x, float[] tembSilu, boolean consume) {
        int b = x.dim(0), hw = x.dim(2) * x.dim(3);
        Tensor skip = shortcut == null ? x : shortcut.forward(x);
        Tensor t;
        if (consume && shortcut != null) {
            norm1.forwardInPlace(x, true);
            t = x;
        } else {
            t = norm1.forward(x, true);
        }
        Tensor h = conv1.forward(t);
        if (timeEmbProj != null) Elementwise.addPerChannel(h.data(), b, out, hw, timeEmbProj.forward(tembSilu, b));
        norm2.forwardInPlace(h, true);
        Tensor z = t.numel() == h.numel() ? conv2.forward(h, t.data()) : conv2.forward(h);
        float[] zd = z.data();
        Elementwise.addInPlace(zd, skip.data(), zd.length);
        if (outputScale != 1f) for (int i = 0; i < zd.length; i++) zd[i] /= outputScale;
        return z;
    }

    /** Multiply-adds times two for a batch of h x w inputs. */
    public long flops(int batch, int h, int w) {
        long f = conv1.flops(batch, h, w) + conv2.flops(batch, h, w) + (timeEmbProj == null ? 0 : timeEmbProj.flops(batch));
        if (shortcut != null) f += shortcut.flops(batch, h, w);
        return f;
    }
}

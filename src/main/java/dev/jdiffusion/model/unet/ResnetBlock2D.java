package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.tensor.Tensor;

/**
 * diffusers' ResnetBlock2D: GroupNorm+SiLU -> conv3x3 -> + time_emb_proj(SiLU(temb)) -> GroupNorm+SiLU -> conv3x3,
 * plus a 1x1 conv shortcut when the channel count changes; the sum divided by the output scale factor.
 */
final class ResnetBlock2D {
    final int in, out;
    private final int groups;
    private final float eps, outputScale;
    private final float[] norm1W, norm1B, norm2W, norm2B;
    private final Conv conv1, conv2, shortcut;
    private final Linear timeEmbProj;

    ResnetBlock2D(UNetWeights w, String p, int in, int out, int tembDim, int groups, float eps, float outputScale) {
        this.in = in;
        this.out = out;
        this.groups = groups;
        this.eps = eps;
        this.outputScale = outputScale;
        if (in % groups != 0 || out % groups != 0)
            w.problem(p + ": channels " + in + " -> " + out + " are not divisible by norm_num_groups " + groups);
        norm1W = w.vector(p + ".norm1.weight", in);
        norm1B = w.vector(p + ".norm1.bias", in);
        conv1 = Conv.same(w, p + ".conv1", in, out, 3);
        timeEmbProj = new Linear(w, p + ".time_emb_proj", tembDim, out, true);
        norm2W = w.vector(p + ".norm2.weight", out);
        norm2B = w.vector(p + ".norm2.bias", out);
        conv2 = Conv.same(w, p + ".conv2", out, out, 3);
        shortcut = in != out ? Conv.same(w, p + ".conv_shortcut", in, out, 1) : null;
    }

    /** x [B, in, H, W]; tembSilu = SiLU(time embedding) [B, tembDim]. */
    Tensor forward(Tensor x, float[] tembSilu) {
        int b = x.dim(0), h = x.dim(2), wd = x.dim(3), hw = h * wd;
        Tensor t = Tensor.zeros(b, in, h, wd);
        GroupNorm.forward(x.data(), b, in, hw, groups, norm1W, norm1B, eps, true, t.data());
        Tensor y = conv1.forward(t);
        Elementwise.addPerChannel(y.data(), b, out, hw, timeEmbProj.forward(tembSilu, b));
        GroupNorm.forward(y.data(), b, out, hw, groups, norm2W, norm2B, eps, true, y.data());
        Tensor z = conv2.forward(y);
        Tensor res = shortcut != null ? shortcut.forward(x) : x;
        float[] zd = z.data();
        Elementwise.add(res.data(), 0, zd, 0, zd, 0, zd.length);
        if (outputScale != 1f) for (int i = 0; i < zd.length; i++) zd[i] /= outputScale;
        return z;
    }

    long flops(int batch, int h, int w) {
        long f = conv1.flops(batch, h, w) + conv2.flops(batch, h, w) + timeEmbProj.flops(batch);
        if (shortcut != null) f += shortcut.flops(batch, h, w);
        return f;
    }
}

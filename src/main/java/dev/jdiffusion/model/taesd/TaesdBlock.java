package dev.jdiffusion.model.taesd;

import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.model.unet.Conv;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;

/**
 * taesd.py's {@code Block}: {@code relu(conv(x) + skip(x))} with {@code conv = conv3x3, relu, conv3x3, relu, conv3x3}
 * and skip the identity or a bias-free 1x1 conv. TAEF2's mid blocks first add a global branch:
 * {@code x = x + pool(x)}, {@code pool = conv1x1 (n -> 4n, no bias), GroupNorm(4), relu, conv1x1 (4n -> n, no bias)}.
 */
final class TaesdBlock implements TaesdLayer {
    static final int POOL_GROUPS = 4;
    static final float POOL_EPS = 1e-5f;

    private final Conv c0, c2, c4, skip, pool0, pool3;
    private final float[] poolGamma, poolBeta;

    private TaesdBlock(Conv c0, Conv c2, Conv c4, Conv skip, Conv pool0, float[] poolGamma, float[] poolBeta, Conv pool3) {
        this.c0 = c0;
        this.c2 = c2;
        this.c4 = c4;
        this.skip = skip;
        this.pool0 = pool0;
        this.poolGamma = poolGamma;
        this.poolBeta = poolBeta;
        this.pool3 = pool3;
    }

    static TaesdBlock load(TensorSource s, String p) {
        Conv c0 = Conv.load(s, p + "conv.0", 1), c2 = Conv.load(s, p + "conv.2", 1), c4 = Conv.load(s, p + "conv.4", 1);
        int in = c0.inChannels(), out = c4.outChannels();
        check(s, p + "conv", c2.inChannels() == c0.outChannels() && c4.inChannels() == c2.outChannels(), "channels of conv.0/2/4 disagree");
        Conv skip = s.contains(p + "skip.weight") ? Conv.load(s, p + "skip", 1) : null;
        if (skip == null) check(s, p + "conv", in == out, "changes channels " + in + " -> " + out + " without a skip conv");
        else check(s, p + "skip", skip.kernel() == 1 && skip.inChannels() == in && skip.outChannels() == out, "expected a 1x1 conv " + in + " -> " + out);
        Conv p0 = null, p3 = null;
        float[] g = null, b = null;
        if (s.contains(p + "pool.0.weight")) {
            p0 = Conv.load(s, p + "pool.0", 1);
            p3 = Conv.load(s, p + "pool.3", 1);
            int mid = p0.outChannels();
            check(s, p + "pool", p0.kernel() == 1 && p3.kernel() == 1 && p0.inChannels() == in && p3.inChannels() == mid && p3.outChannels() == in,
                    "expected 1x1 convs " + in + " -> n -> " + in);
            check(s, p + "pool", mid % POOL_GROUPS == 0, mid + " channels not divisible into " + POOL_GROUPS + " groups");
            g = s.get(p + "pool.1.weight").expectShape(mid).toFloatArray();
            b = s.get(p + "pool.1.bias").expectShape(mid).toFloatArray();
        }
        return new TaesdBlock(c0, c2, c4, skip, p0, g, b, p3);
    }

    static void check(TensorSource s, String what, boolean ok, String msg) {
        if (!ok) throw new ModelFormatException(s.description() + ": " + what + ": " + msg);
    }

    @Override public int inChannels() { return c0.inChannels(); }
    @Override public int outChannels() { return c4.outChannels(); }

    boolean hasPool() { return pool0 != null; }

    @Override public String toString() {
        return "Block(" + inChannels() + "->" + outChannels() + (skip != null ? ", skip conv" : "") + (pool0 != null ? ", pool GroupNorm branch" : "") + ")";
    }

    @Override public long flops(int h, int w) {
        long f = c0.flops(h, w) + c2.flops(h, w) + c4.flops(h, w) + (skip == null ? 0 : skip.flops(h, w));
        if (pool0 != null) f += pool0.flops(h, w) + pool3.flops(h, w);
        return f;
    }

    @Override public Tensor forward(Tensor x) {
        if (pool0 != null) {
            Tensor t = pool0.forward(x);
            GroupNorm.forward(t.data(), t.dim(0), t.dim(1), t.dim(2) * t.dim(3), POOL_GROUPS, poolGamma, poolBeta, POOL_EPS, false, t.data());
            Relu.inPlace(t);
            t = pool3.forward(t);
            Elementwise.addInPlace(t.data(), x.data(), t.numel());
            x = t;
        }
        Tensor h = c0.forward(x);
        Relu.inPlace(h);
        h = c2.forward(h);
        Relu.inPlace(h);
        h = c4.forward(h);
        Elementwise.addInPlace(h.data(), (skip == null ? x : skip.forward(x)).data(), h.numel());
        Relu.inPlace(h);
        return h;
    }
}

package dev.jdiffusion.model.unet;

import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Arrays;

/** {@code nn.GroupNorm} (affine), optionally followed by SiLU. Shared by the U-Net and the autoencoders. */
public final class GroupNormLayer {
    private final float[] gamma, beta;
    private final int channels, groups;
    private final float eps;

    private GroupNormLayer(float[] gamma, float[] beta, int groups, float eps) {
        this.gamma = gamma;
        this.beta = beta;
        this.channels = gamma.length;
        this.groups = groups;
        this.eps = eps;
    }

    /** A norm of the channel count the config implies (problems recorded in w). */
    static GroupNormLayer of(UNetWeights w, String prefix, int channels, int groups, float eps) {
        return new GroupNormLayer(w.vector(prefix + ".weight", channels), w.vector(prefix + ".bias", channels), groups, eps);
    }

    /** Loads {@code prefix.weight} and {@code prefix.bias}, channels read from the file and checked against groups. */
    public static GroupNormLayer load(TensorSource s, String prefix, int groups, float eps) {
        TensorView g = s.get(prefix + ".weight");
        if (g.rank() != 1) throw new ModelFormatException(s.description() + ": tensor " + g.name() + " should be a vector, has shape " + Arrays.toString(g.shape()));
        int c = Math.toIntExact(g.dim(0));
        TensorView b = s.get(prefix + ".bias").expectShape(c);
        if (c % groups != 0)
            throw new ModelFormatException(s.description() + ": " + prefix + " has " + c + " channels, not divisible into "
                    + groups + " groups (norm_num_groups in the config)");
        return new GroupNormLayer(g.toFloatArray(), b.toFloatArray(), groups, eps);
    }

    public int channels() { return channels; }

    /** Normalises x in place (with SiLU when silu). */
    public void forwardInPlace(Tensor x, boolean silu) {
        GroupNorm.forward(x.data(), x.dim(0), channels, x.dim(2) * x.dim(3), groups, gamma, beta, eps, silu, x.data());
    }

    /** A new tensor: the normalised x, with SiLU when silu. */
    public Tensor forward(Tensor x, boolean silu) {
        Tensor y = Tensor.zeros(x.shape());
        GroupNorm.forward(x.data(), x.dim(0), channels, x.dim(2) * x.dim(3), groups, gamma, beta, eps, silu, y.data());
        return y;
    }
}

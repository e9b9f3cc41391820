package dev.jdiffusion.model.clip;

import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.kernels.Attention;
import dev.jdiffusion.kernels.Elementwise;
import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.LayerNorm;

/**
 * One pre-LN transformer block of CLIP's text encoder:
 * <pre>
 *   x = x + out_proj(causal_self_attention(q_proj, k_proj, v_proj of layer_norm1(x)))
 *   x = x + fc2(act(fc1(layer_norm2(x))))
 * </pre>
 * All linear layers see the whole batch as one {@code [batch*seq, hidden]} matrix.
 */
final class ClipEncoderLayer {
    final ClipWeights.Norm norm1, norm2;
    final ClipWeights.Linear q, k, v, out, fc1, fc2;

    ClipEncoderLayer(ClipWeights.Norm norm1, ClipWeights.Linear q, ClipWeights.Linear k, ClipWeights.Linear v,
                     ClipWeights.Linear out, ClipWeights.Norm norm2, ClipWeights.Linear fc1, ClipWeights.Linear fc2) {
        this.norm1 = norm1;
        this.q = q;
        this.k = k;
        this.v = v;
        this.out = out;
        this.norm2 = norm2;
        this.fc1 = fc1;
        this.fc2 = fc2;
    }

    /** Activation buffers for one forward pass, reused across layers. */
    static final class Buffers {
        final float[] h, q, k, v, att, mlp;

        Buffers(int rows, int hidden, int intermediate) {
            int n = rows * hidden;
            h = new float[n];
            q = new float[n];
            k = new float[n];
            v = new float[n];
            att = new float[n];
            mlp = new float[rows * intermediate];
        }
    }

    /** Updates x ({@code [batch*seq, hidden]}) in place. */
    void forward(float[] x, int batch, int seq, ClipTextConfig cfg, Buffers b) {
        int rows = batch * seq, hidden = cfg.hiddenSize();
        int headDim = cfg.headDim();

        // self-attention block
        LayerNorm.forward(x, rows, hidden, norm1.weight(), norm1.bias(), cfg.layerNormEps(), b.h);
        Gemm.linear(b.h, 0, rows, q.weight(), q.bias(), b.q, 0);
        Gemm.linear(b.h, 0, rows, k.weight(), k.bias(), b.k, 0);
        Gemm.linear(b.h, 0, rows, v.weight(), v.bias(), b.v, 0);
        Attention.forward(b.q, b.k, b.v, batch, cfg.numHeads(), seq, seq, headDim, true, (float) (1.0 / Math.sqrt(headDim)), b.att);
        Gemm.linear(b.att, 0, rows, out.weight(), out.bias(), b.h, 0);
        Elementwise.addInPlace(x, b.h, rows * hidden);

        // MLP block
        LayerNorm.forward(x, rows, hidden, norm2.weight(), norm2.bias(), cfg.layerNormEps(), b.h);
        Gemm.linear(b.h, 0, rows, fc1.weight(), fc1.bias(), b.mlp, 0);
        int n = rows * cfg.intermediateSize();
        switch (cfg.activation()) {
            case QUICK_GELU -> Activations.quickGelu(b.mlp, 0, n);
            case GELU -> Activations.gelu(b.mlp, 0, n);
        }
        Gemm.linear(b.mlp, 0, rows, fc2.weight(), fc2.bias(), b.h, 0);
        Elementwise.addInPlace(x, b.h, rows * hidden);
    }

}

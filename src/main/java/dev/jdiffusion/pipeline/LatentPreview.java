package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;

/**
 * The cheapest preview there is: a fixed linear map from Stable Diffusion's 4 latent channels to RGB at the
 * latent's resolution (1/8 of the image). Used when no TAESD decoder is loaded.
 */
final class LatentPreview {
    private LatentPreview() {}

    // Least-squares fit of SD 1.x latents to RGB, as commonly used by UIs for live previews.
    private static final float[][] M = {
            {0.298f, 0.207f, 0.208f},
            {0.187f, 0.286f, 0.173f},
            {-0.158f, 0.189f, 0.264f},
            {-0.184f, -0.271f, -0.473f}};

    /** [B, C, h, w] latents to [B, 3, h, w] in [0, 1]. Channels beyond 4 are ignored. */
    static Tensor rgb(Tensor latents) {
        int b = latents.dim(0), c = latents.dim(1), h = latents.dim(2), w = latents.dim(3), hw = h * w;
        float[] x = latents.data(), y = new float[b * 3 * hw];
        for (int n = 0; n < b; n++)
            for (int p = 0; p < hw; p++)
                for (int o = 0; o < 3; o++) {
                    float v = 0;
                    for (int i = 0; i < Math.min(4, c); i++) v += M[i][o] * x[(n * c + i) * hw + p];
                    y[(n * 3 + o) * hw + p] = Math.min(1f, Math.max(0f, (v + 1f) / 2f));
                }
        return new Tensor(y, b, 3, h, w);
    }
}

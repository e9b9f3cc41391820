package dev.jdiffusion.pipeline;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.model.unet.UNetResiduals;
import dev.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The ControlNets of one generation, as diffusers' StableDiffusionControlNetPipeline applies them (guess mode off):
 * every ControlNet sees the same (CFG-doubled) latents, timestep and text embeddings as the U-Net, with its control
 * image for both guidance halves; at step i of N its scale is {@code scale x keep}, keep = 0 when i/N &lt; start or
 * (i+1)/N &gt; end, else 1; the residuals of several ControlNets are summed. A ControlNet at scale 0 adds exact zeros,
 * so it is skipped.
 */
final class ControlSteps {
    private record Prepared(GenerationRequest.Control control, Tensor embedding) {}

    private final List<Prepared> prepared;

    private ControlSteps(List<Prepared> prepared) { this.prepared = prepared; }

    /**
     * Checks every ControlNet against the U-Net and embeds its control image, resized to width x height first
     * (Lanczos, as the pipeline's image processor) when its size differs. Null when the request has none.
     */
    static ControlSteps prepare(List<GenerationRequest.Control> controls, UNetConfig unet, String modelName, int width, int height) {
        if (controls.isEmpty()) return null;
        List<Prepared> p = new ArrayList<>();
        for (GenerationRequest.Control c : controls) {
            c.net().checkFits(unet, modelName);
            Tensor img = c.image();
            if (img.dim(2) != height || img.dim(3) != width) img = Images.resize(img, width, height);
            p.add(new Prepared(c, c.net().model().embedCondition(img)));
        }
        return new ControlSteps(p);
    }

    /**
     * The summed residuals for run step {@code i} of {@code n}, or null when every ControlNet is off at this step.
     *
     * @param latents the U-Net's (scaled, CFG-doubled) latent input, without inpainting channels
     */
    UNetResiduals residuals(Tensor latents, float[] timesteps, Tensor embeds, int i, int n, StableDiffusion.StepTrace trace) {
        UNetResiduals sum = null;
        for (Prepared p : prepared) {
            float s = scale(p.control(), i, n);
            if (s == 0f) continue;
            UNetResiduals r = p.control().net().model().forward(latents, timesteps, embeds, p.embedding(), s, null);
            sum = UNetResiduals.sum(sum, r);
        }
        if (sum != null) trace.onTensor("mid_block_res_sample", sum.mid());
        return sum;
    }

    /** diffusers' controlnet_keep x controlnet_conditioning_scale at step i of n (as a float32 number). */
    static float scale(GenerationRequest.Control c, int i, int n) {
        boolean off = (double) i / n < c.guidanceStart() || (double) (i + 1) / n > c.guidanceEnd();
        return off ? 0f : c.scale();
    }
}

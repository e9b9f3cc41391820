package dev.jdiffusion.pipeline;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.model.vae.LatentDist;
import dev.jdiffusion.sampling.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;

/** Image-to-image helpers, following diffusers' StableDiffusionImg2ImgPipeline. */
final class Img2Img {
    private Img2Img() {}

    /**
     * Encodes the init image [1, 3, H, W] in [0, 1] to scaled latents repeated to the batch: one sample of the
     * VAE's latent distribution drawn from the generator (as diffusers does), times the scaling factor.
     */
    static Tensor encode(ModelComponents parts, Tensor image01, int batch, TorchGenerator gen) {
        Tensor lat;
        if (parts.vae() != null) {
            LatentDist dist = parts.vae().encode(Images.toSigned(image01));
            Tensor noise = gen.randn(dist.mean().shape());
            lat = dist.sample(noise.data());
            float s = parts.vae().scalingFactor();
            float[] l = lat.data();
            for (int i = 0; i < l.length; i++) l[i] *= s;
        } else {
            lat = parts.taesd().encodeImage(image01);
        }
        if (batch == 1) return lat;
        float[] out = new float[lat.numel() * batch];
        for (int b = 0; b < batch; b++) System.arraycopy(lat.data(), 0, out, b * lat.numel(), lat.numel());
        int[] s = lat.shape();
        s[0] = batch;
        return new Tensor(out, s);
    }
}

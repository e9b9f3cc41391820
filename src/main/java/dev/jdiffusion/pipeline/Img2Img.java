package dev.jdiffusion.pipeline;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.model.vae.LatentDist;
import dev.jdiffusion.tensor.Tensor;

/** Image-to-image helpers, following diffusers' StableDiffusionImg2ImgPipeline. */
final class Img2Img {
    private Img2Img() {}

    /**
     * Encodes the init image [1, 3, H, W] in [0, 1] to scaled latents for the batch: a sample of the VAE's latent
     * distribution drawn from the noise (as diffusers does), times the scaling factor. Per-image noise draws one
     * sample per image (each image's first draw, as in its single-image run); shared noise draws one and repeats it.
     */
    static Tensor encode(ModelComponents parts, Tensor image01, int batch, BatchNoise noise) {
        if (parts.vae() == null) return repeat(parts.taesd().encodeImage(image01), batch);
        return encodeSigned(parts, Images.toSigned(image01), batch, noise);
    }

    /** As {@link #encode}, for an image in [-1, 1] (diffusers' masked image, whose repainted pixels are 0). */
    static Tensor encodeSigned(ModelComponents parts, Tensor signed, int batch, BatchNoise noise) {
        if (parts.vae() == null) return repeat(parts.taesd().encodeImage(Images.fromSigned(signed)), batch);
        LatentDist dist = parts.vae().encode(signed);
        int[] shape = dist.mean().shape();
        int per = dist.mean().numel();
        float s = parts.vae().scalingFactor();
        if (!noise.perImage()) return repeat(scaled(dist.sample(noise.next(shape).data()), s), batch);
        shape[0] = batch;
        float[] all = noise.next(shape).data(), out = new float[per * batch];
        for (int b = 0; b < batch; b++) {
            Tensor lat = scaled(dist.sample(java.util.Arrays.copyOfRange(all, b * per, (b + 1) * per)), s);
            System.arraycopy(lat.data(), 0, out, b * per, per);
        }
        return new Tensor(out, shape);
    }

    private static Tensor scaled(Tensor t, float s) {
        float[] l = t.data();
        for (int i = 0; i < l.length; i++) l[i] *= s;
        return t;
    }

    private static Tensor repeat(Tensor lat, int batch) {
        if (batch == 1) return lat;
        float[] out = new float[lat.numel() * batch];
        for (int b = 0; b < batch; b++) System.arraycopy(lat.data(), 0, out, b * lat.numel(), lat.numel());
        int[] s = lat.shape();
        s[0] = batch;
        return new Tensor(out, s);
    }
}

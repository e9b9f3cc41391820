package dev.jdiffusion.pipeline;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.model.vae.LatentDist;
import dev.jdiffusion.sampling.Scheduler;
import dev.jdiffusion.tensor.Tensor;

/**
 * Inpainting as diffusers' StableDiffusionInpaintPipeline (0.25.1) does it, as an option of the one denoising loop,
 * plus the image helpers around it (mask from an image, outpainting canvas, composite over the original).
 * <ul>
 * <li>mask: white = repaint; binarised at 0.5 ({@code mask_condition}); the latent mask takes, for each latent cell,
 *     the binarised pixel at its top-left corner (torch's nearest {@code interpolate});</li>
 * <li>masked image = image x (mask_condition &lt; 0.5), encoded by sampling the VAE's posterior;</li>
 * <li>a 9-channel U-Net gets concat(latents, mask, masked-image latents); a 4-channel U-Net gets the latents, and
 *     after each step the part outside the mask is replaced by the init image's latents noised to the next
 *     timestep (the un-noised latents after the last step).</li>
 * </ul>
 * Generator draws, in diffusers' order: the init image's posterior noise (only below strength 1 or with a 4-channel
 * U-Net), the initial latent noise, the masked image's posterior noise (drawn with a 4-channel U-Net too).
 */
public final class Inpainting {
    private final boolean nineChannels;
    private final Tensor mask, maskedLatents, imageLatents, noise, initialLatents, maskCondition;

    private Inpainting(boolean nine, Tensor mask, Tensor maskedLatents, Tensor imageLatents, Tensor noise, Tensor initial, Tensor maskCondition) {
        this.nineChannels = nine;
        this.mask = mask;
        this.maskedLatents = maskedLatents;
        this.imageLatents = imageLatents;
        this.noise = noise;
        this.initialLatents = initial;
        this.maskCondition = maskCondition;
    }

    /**
     * Encodes the images and draws the initial latents for an inpainting run, in diffusers' order of random draws.
     *
     * @param image01   init image [1, 3, H, W] in [0, 1]
     * @param mask01    mask [1, 1, H, W] in [0, 1] (white = repaint), the init image's size
     * @param startStep the first step that runs (strength below 1 skips some)
     */
    static Inpainting prepare(ModelComponents parts, Tensor image01, Tensor mask01, float strength, int batch, int latentChannels,
                              BatchNoise gen, Scheduler scheduler, int startStep, StableDiffusion.StepTrace trace) {
        int inCh = parts.unet().config().inChannels();
        boolean nine = inCh == latentChannels + latentChannels + 1;
        int lh = image01.dim(2) / 8, lw = image01.dim(3) / 8;
        boolean full = strength >= 1f;
        Tensor imageLatents = null;
        if (!full || !nine) {
            imageLatents = Img2Img.encode(parts, image01, batch, gen);
            trace.onTensor("image_latents", imageLatents);
        }
        Tensor noise = gen.next(batch, latentChannels, lh, lw);
        Tensor latents;
        if (full) {
            latents = StableDiffusion.copy(noise);
            StableDiffusion.scale(latents, scheduler.initNoiseSigma());
        } else {
            latents = scheduler.addNoise(imageLatents, noise, startStep);
        }
        Tensor cond = binarize(mask01);
        trace.onTensor("mask_condition", cond);
        Tensor masked = maskedImage(Images.toSigned(image01), cond);
        Tensor maskedLatents;
        if (nine) {
            maskedLatents = Img2Img.encodeSigned(parts, masked, batch, gen);
            trace.onTensor("masked_image_latents", maskedLatents);
        } else {
            gen.next(gen.perImage() ? batch : 1, latentChannels, lh, lw); // diffusers encodes the masked image anyway: keep the generator's stream
            maskedLatents = null;
        }
        Tensor m = latentMask(cond, lh, lw);
        trace.onTensor("mask", m);
        return new Inpainting(nine, repeat(m, batch), maskedLatents, imageLatents, noise, latents, cond);
    }

    /** The latents the loop starts from. */
    Tensor initialLatents() { return initialLatents; }

    /** The U-Net's input for the (possibly CFG-doubled) scaled latents: with 9 channels concat(latents, mask, masked latents). */
    Tensor unetInput(Tensor in) {
        if (!nineChannels) return in;
        int rows = in.dim(0), reps = rows / mask.dim(0);
        Tensor m = reps == 1 ? mask : repeat(mask, rows), ml = reps == 1 ? maskedLatents : repeat(maskedLatents, rows);
        return concatChannels(in, m, ml);
    }

    /**
     * After scheduler step {@code step}: with a 4-channel U-Net, keeps the repainted part and puts back the init image's
     * latents elsewhere, noised to the next step's timestep (un-noised after the last step).
     */
    Tensor blend(Tensor latents, Scheduler scheduler, int step, int numTimesteps) {
        if (nineChannels) return latents;
        Tensor proper = step < numTimesteps - 1 ? scheduler.addNoise(imageLatents, noise, step + 1) : imageLatents;
        int b = latents.dim(0), c = latents.dim(1), hw = latents.dim(2) * latents.dim(3);
        float[] l = latents.data(), p = proper.data(), m = mask.data(), o = new float[l.length];
        for (int i = 0; i < b; i++)
            for (int k = 0; k < c; k++)
                for (int j = 0; j < hw; j++) {
                    int x = (i * c + k) * hw + j;
                    float mv = m[i * hw + j];
                    o[x] = (1f - mv) * p[x] + mv * l[x];
                }
        return new Tensor(o, latents.shape());
    }

    /** Mask values >= 0.5 become 1, the others 0 (diffusers' binarize). */
    static Tensor binarize(Tensor mask) {
        float[] s = mask.data(), d = new float[s.length];
        for (int i = 0; i < s.length; i++) d[i] = s[i] < 0.5f ? 0f : 1f;
        return new Tensor(d, mask.shape());
    }

    /** image (in [-1, 1]) x (mask &lt; 0.5): repainted pixels become 0. */
    static Tensor maskedImage(Tensor signed, Tensor cond) {
        int c = signed.dim(1), hw = signed.dim(2) * signed.dim(3);
        float[] s = signed.data(), m = cond.data(), d = new float[s.length];
        for (int k = 0; k < c; k++)
            for (int j = 0; j < hw; j++) d[k * hw + j] = s[k * hw + j] * (m[j] < 0.5f ? 1f : 0f);
        return new Tensor(d, signed.shape());
    }

    /** torch's nearest interpolate of [1, 1, H, W] to [1, 1, h, w]: source index floor(dst x (in / out)). */
    static Tensor latentMask(Tensor cond, int h, int w) {
        int H = cond.dim(2), W = cond.dim(3);
        float sy = (float) H / h, sx = (float) W / w;
        float[] s = cond.data(), d = new float[h * w];
        for (int y = 0; y < h; y++) {
            int iy = Math.min((int) Math.floor(y * sy), H - 1);
            for (int x = 0; x < w; x++) d[y * w + x] = s[iy * W + Math.min((int) Math.floor(x * sx), W - 1)];
        }
        return new Tensor(d, 1, 1, h, w);
    }

    static Tensor repeat(Tensor t, int n) {
        if (t.dim(0) == n) return t;
        int per = t.numel() / t.dim(0);
        float[] d = new float[per * n];
        for (int i = 0; i < n; i++) System.arraycopy(t.data(), (i % t.dim(0)) * per, d, i * per, per);
        int[] s = t.shape();
        s[0] = n;
        return new Tensor(d, s);
    }

    static Tensor concatChannels(Tensor... ts) {
        int b = ts[0].dim(0), hw = ts[0].dim(2) * ts[0].dim(3), ch = 0;
        for (Tensor t : ts) ch += t.dim(1);
        float[] d = new float[b * ch * hw];
        for (int i = 0; i < b; i++) {
            int off = i * ch * hw;
            for (Tensor t : ts) {
                int n = t.dim(1) * hw;
                System.arraycopy(t.data(), i * n, d, off, n);
                off += n;
            }
        }
        return new Tensor(d, b, ch, ts[0].dim(2), ts[0].dim(3));
    }

    // ---- image helpers (public API) ----

    /**
     * A mask [1, 1, H, W] in [0, 1] from an image read by {@link Images#read}: its grey level as PIL's
     * {@code convert("L")} computes it (ITU-R 601-2 luma on the 8-bit values), white = repaint.
     *
     * @param rgb01 [1, 3, H, W] in [0, 1], or [1, 1, H, W] (returned as is)
     * @return [1, 1, H, W] grey levels in [0, 1] (multiples of 1/255 for an RGB input)
     * @throws IllegalArgumentException for any other shape
     */
    public static Tensor maskFromImage(Tensor rgb01) {
        if (rgb01 == null || rgb01.rank() != 4 || rgb01.dim(0) != 1 || (rgb01.dim(1) != 3 && rgb01.dim(1) != 1))
            throw new IllegalArgumentException("mask image must be [1, 3, H, W] or [1, 1, H, W], got " + rgb01);
        if (rgb01.dim(1) == 1) return rgb01;
        int hw = rgb01.dim(2) * rgb01.dim(3);
        float[] s = rgb01.data(), d = new float[hw];
        for (int i = 0; i < hw; i++) {
            int r = Images.toByte(s[i]), g = Images.toByte(s[hw + i]), b = Images.toByte(s[2 * hw + i]);
            d[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255f;
        }
        return new Tensor(d, 1, 1, rgb01.dim(2), rgb01.dim(3));
    }

    /**
     * The outpainting canvas made by {@link #outpaint}.
     *
     * @param image the padded image [1, 3, H', W'], the new area repeating the nearest edge pixel
     * @param mask  [1, 1, H', W']: 1 on the new area (repaint), 0 on the original image
     */
    public record Canvas(Tensor image, Tensor mask) {}

    /**
     * Pads the image [1, 3, H, W] by left, top, right, bottom pixels (the new area repeats the nearest edge pixel,
     * a neutral start for the noise) and makes the mask that repaints exactly the new area.
     *
     * @param image  the image [1, 3, H, W]; not modified
     * @param left   pixels added on the left, at least 0
     * @param top    pixels added at the top, at least 0
     * @param right  pixels added on the right, at least 0
     * @param bottom pixels added at the bottom, at least 0
     * @return the canvas [1, 3, H + top + bottom, W + left + right] and its mask, both new tensors
     * @throws IllegalArgumentException a negative side, or all four 0
     */
    public static Canvas outpaint(Tensor image, int left, int top, int right, int bottom) {
        if (left < 0 || top < 0 || right < 0 || bottom < 0 || left + top + right + bottom == 0)
            throw new IllegalArgumentException("outpaint padding must be >= 0 with at least one side > 0, got "
                    + left + "," + top + "," + right + "," + bottom);
        int h = image.dim(2), w = image.dim(3), H = h + top + bottom, W = w + left + right;
        float[] s = image.data(), d = new float[3 * H * W], m = new float[H * W];
        for (int y = 0; y < H; y++) {
            int sy = Math.min(Math.max(y - top, 0), h - 1);
            for (int x = 0; x < W; x++) {
                int sx = Math.min(Math.max(x - left, 0), w - 1);
                for (int c = 0; c < 3; c++) d[(c * H + y) * W + x] = s[(c * h + sy) * w + sx];
                boolean inside = y >= top && y < top + h && x >= left && x < left + w;
                m[y * W + x] = inside ? 0f : 1f;
            }
        }
        return new Canvas(new Tensor(d, 1, 3, H, W), new Tensor(m, 1, 1, H, W));
    }

    /**
     * The generated images [B, 3, H, W] composited over the original [1, 3, H, W]: original x (1 - m) + generated x m
     * with m the mask blurred by a Gaussian of sigma {@code blur} pixels (0 = as is), as A1111 pastes an inpainting
     * result back; pixels where the blurred mask is 0 are the original's exactly.
     *
     * @param original  the init image [1, 3, H, W]
     * @param generated the generated images [B, 3, H, W]
     * @param mask01    the mask [1, 1, H, W] in [0, 1] (1 = generated)
     * @param blur      the Gaussian sigma in pixels for the mask's edge, 0 for none
     * @return a new tensor [B, 3, H, W]
     * @throws IllegalArgumentException when the sizes differ
     */
    public static Tensor composite(Tensor original, Tensor generated, Tensor mask01, int blur) {
        Tensor m = blur > 0 ? gaussianBlur(mask01, blur) : mask01;
        int b = generated.dim(0), hw = generated.dim(2) * generated.dim(3);
        if (original.dim(2) * original.dim(3) != hw || m.dim(2) * m.dim(3) != hw)
            throw new IllegalArgumentException("composite: sizes differ: " + original + ", " + generated + ", " + mask01);
        float[] o = original.data(), g = generated.data(), md = m.data(), d = new float[g.length];
        for (int i = 0; i < b; i++)
            for (int c = 0; c < 3; c++)
                for (int j = 0; j < hw; j++) {
                    float mv = md[j];
                    int x = (i * 3 + c) * hw + j;
                    d[x] = mv == 0f ? o[c * hw + j] : mv == 1f ? g[x] : o[c * hw + j] * (1f - mv) + g[x] * mv;
                }
        return new Tensor(d, generated.shape());
    }

    /**
     * A separable Gaussian blur (kernel radius ceil(3 sigma), normalised, edges repeated) of a mask, in double.
     *
     * @param mask  [1, 1, H, W]; not modified
     * @param sigma the Gaussian's standard deviation in pixels, above 0
     * @return a new blurred [1, 1, H, W] tensor
     */

    public static Tensor gaussianBlur(Tensor mask, double sigma) {
        int h = mask.dim(2), w = mask.dim(3), r = (int) Math.ceil(3 * sigma);
        double[] k = new double[2 * r + 1];
        double sum = 0;
        for (int i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * (double) i) / (2 * sigma * sigma));
        for (int i = 0; i < k.length; i++) k[i] /= sum;
        float[] s = mask.data(), t = new float[h * w], d = new float[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double a = 0;
                for (int i = -r; i <= r; i++) a += k[i + r] * s[y * w + Math.min(Math.max(x + i, 0), w - 1)];
                t[y * w + x] = (float) a;
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double a = 0;
                for (int i = -r; i <= r; i++) a += k[i + r] * t[Math.min(Math.max(y + i, 0), h - 1) * w + x];
                d[y * w + x] = (float) a;
            }
        return new Tensor(d, 1, 1, h, w);
    }
}

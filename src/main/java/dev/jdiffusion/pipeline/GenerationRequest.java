package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;

import java.util.Objects;

/**
 * What to generate. Built with {@link #builder(String)}; every field left unset takes the model family's default
 * when the request runs (LCM: 4 steps, sampler lcm, guidance 8 as an embedding; SD: 25 steps, euler_a, CFG 7.5).
 * Instances are immutable and may be reused.
 */
public final class GenerationRequest {
    /** Largest side accepted, in pixels. */
    public static final int MAX_SIDE = 4096;
    /** Most images per request. */
    public static final int MAX_BATCH = 16;
    /** Most denoising steps. */
    public static final int MAX_STEPS = 1000;
    /**
     * Most 75-token chunks in a prompt (or negative prompt): 16, i.e. 1200 tokens. Longer prompts are refused when
     * the request runs (the tokenizer counts), before any compute.
     */
    public static final int MAX_PROMPT_CHUNKS = 16;

    private final String prompt, negativePrompt, sampler;
    private final int steps, width, height, batch, clipSkip;
    private final float guidanceScale, strength, eta;
    private final Long seed;
    private final Tensor initImage;
    private final boolean previews, sharedBatchNoise;
    private final ProgressListener progress;
    private final CancellationToken cancellation;
    private final java.util.List<Control> controls;
    private final Tensor mask;
    private final int maskBlur;
    private final boolean composite;
    private final java.util.List<LoraRef> loras;
    /** SDXL micro-conditioning: original size (h, w; 0 = the output size) and crop top-left (top, left). */
    private final int[] sdxlOriginalSize, sdxlCropTopLeft;

    private GenerationRequest(Builder b) {
        loras = java.util.List.copyOf(b.loras);
        prompt = b.prompt;
        negativePrompt = b.negativePrompt;
        sampler = b.sampler;
        steps = b.steps;
        width = b.width;
        height = b.height;
        batch = b.batch;
        clipSkip = b.clipSkip;
        guidanceScale = b.guidanceScale;
        strength = b.strength;
        eta = b.eta;
        seed = b.seed;
        initImage = b.initImage;
        previews = b.previews;
        sharedBatchNoise = b.sharedBatchNoise;
        progress = b.progress;
        cancellation = b.cancellation;
        controls = java.util.List.copyOf(b.controls);
        mask = b.mask;
        maskBlur = b.maskBlur;
        composite = b.composite;
        sdxlOriginalSize = b.sdxlOriginalSize.clone();
        sdxlCropTopLeft = b.sdxlCropTopLeft.clone();
    }

    /**
     * One ControlNet with its control image ([1, 3, H, W] in [0, 1], used as is: preprocess it first, e.g. with
     * {@link dev.jdiffusion.image.Canny}; resized to the output size when it differs), its conditioning scale and the
     * fraction of the steps it acts on ({@code guidanceStart} to {@code guidanceEnd}, as diffusers'
     * control_guidance_start / _end).
     *
     * @param net           the loaded ControlNet; it must stay open while the request runs
     * @param image         the control image [1, 3, H, W] in [0, 1]
     * @param scale         the conditioning scale its residuals are multiplied by, 0 to 10 (1: as trained)
     * @param guidanceStart the fraction of the steps after which it starts acting, in [0, 1)
     * @param guidanceEnd   the fraction of the steps after which it stops, in (guidanceStart, 1]
     */
    public record Control(ControlNet net, Tensor image, float scale, float guidanceStart, float guidanceEnd) {
        /**
         * Checks every component.
         *
         * @throws NullPointerException     when net is null
         * @throws IllegalArgumentException an image that is not [1, 3, H, W], a scale outside [0, 10], or
         *                                  start and end that do not satisfy 0 &lt;= start &lt; end &lt;= 1
         */
        public Control {
            Objects.requireNonNull(net, "controlnet");
            if (image == null || image.rank() != 4 || image.dim(0) != 1 || image.dim(1) != 3)
                throw new IllegalArgumentException("control image must be [1, 3, H, W], got " + image);
            if (!(Float.isFinite(scale) && scale >= 0f && scale <= 10f))
                throw new IllegalArgumentException("control scale must be between 0 and 10, got " + scale);
            if (!(guidanceStart >= 0f && guidanceEnd <= 1f && guidanceStart < guidanceEnd))
                throw new IllegalArgumentException("control guidance start and end must satisfy 0 <= start < end <= 1, got "
                        + guidanceStart + " and " + guidanceEnd);
        }
    }

    /**
     * A builder for a request with this prompt; every other field has a default.
     *
     * @param prompt the prompt (may contain {@code (word:1.2)} weights and {@code <lora:NAME:W>} tags); not null
     * @return a new builder, not shared between threads
     * @throws NullPointerException when prompt is null
     */
    public static Builder builder(String prompt) { return new Builder(prompt); }

    /** {@return the prompt, never null} */
    public String prompt() { return prompt; }
    /** {@return the negative prompt, empty for none (never null)} */
    public String negativePrompt() { return negativePrompt; }
    /** {@return the sampler's name as given, or null for the family's default} */
    public String sampler() { return sampler; }
    /** {@return the denoising steps, or 0 for the family's default} */
    public int steps() { return steps; }
    /** {@return the image width in pixels, or 0 for the init image's width, else the family's default} */
    public int width() { return width; }
    /** {@return the image height in pixels, or 0 for the init image's height, else the family's default} */
    public int height() { return height; }
    /** {@return the images generated at once (the batch size), 1 to {@link #MAX_BATCH}} */
    public int batch() { return batch; }
    /** {@return the CLIP skip: 1 uses the text encoder's last layer, 2 the one before, and so on} */
    public int clipSkip() { return clipSkip; }
    /** {@return the guidance scale, or NaN for the family's default} */
    public float guidanceScale() { return guidanceScale; }
    /** {@return the image-to-image strength: how much of the init image is replaced, in (0, 1]} */
    public float strength() { return strength; }
    /** {@return DDIM's eta, in [0, 1] (0: deterministic)} */
    public float eta() { return eta; }
    /**
     * {@return the seed, or null to draw one (the result reports the seed used); image i of a batch uses seed + i}
     */
    public Long seed() { return seed; }
    /** {@return true when the whole batch's noise comes from one generator of the seed, as diffusers draws it} */
    public boolean sharedBatchNoise() { return sharedBatchNoise; }
    /** {@return the init image [1, 3, H, W] in [0, 1] for image-to-image, or null for text-to-image} */
    public Tensor initImage() { return initImage; }
    /** {@return true when progress events carry a preview image} */
    public boolean previews() { return previews; }
    /** {@return the listener told about every denoising step ({@link ProgressListener#NONE} when none was set)} */
    public ProgressListener progress() { return progress; }
    /** {@return the token that cancels this request (a fresh one when none was set)} */
    public CancellationToken cancellation() { return cancellation; }
    /** {@return the ControlNets, in the order given (their residuals are summed); an unmodifiable list} */
    public java.util.List<Control> controls() { return controls; }
    /** {@return the inpainting mask [1, 1, H, W] in [0, 1] (white = repaint), or null} */
    public Tensor mask() { return mask; }
    /** {@return the Gaussian blur (sigma, pixels) of the mask for the final composite; 0 = none} */
    public int maskBlur() { return maskBlur; }
    /**
     * {@return whether an inpainting result is composited over the init image (outside the mask the original's
     * pixels)}
     */
    public boolean composite() { return composite; }
    /**
     * {@return the LoRAs for this request, applied after the model's own ({@link ModelOptions#withLora}) and the
     * prompt's tags; an unmodifiable list}
     */
    public java.util.List<LoraRef> loras() { return loras; }
    /** {@return a copy of SDXL's original_size (height, width); {0, 0} = the output size (diffusers' default)} */
    public int[] sdxlOriginalSize() { return sdxlOriginalSize.clone(); }
    /** {@return a copy of SDXL's crops_coords_top_left (top, left)} */
    public int[] sdxlCropTopLeft() { return sdxlCropTopLeft.clone(); }


    /**
     * Builder with validation in {@link #build()}. Setters only record values (ranges are checked by build) and
     * return this builder; a builder is not thread-safe, the requests it builds are immutable.
     */
    public static final class Builder {
        private String prompt, negativePrompt = "", sampler;
        private int steps, width, height, batch = 1, clipSkip = 1;
        private float guidanceScale = Float.NaN, strength = 0.8f, eta = 0f;
        private Long seed;
        private Tensor initImage;
        private boolean previews, guidanceSet, stepsSet, widthSet, heightSet, sharedBatchNoise;
        private ProgressListener progress = ProgressListener.NONE;
        private CancellationToken cancellation = new CancellationToken();
        private final java.util.List<Control> controls = new java.util.ArrayList<>();
        private Tensor mask;
        private int maskBlur = 4;
        private boolean composite = true, strengthSet;
        private final java.util.List<LoraRef> loras = new java.util.ArrayList<>();
        private int[] sdxlOriginalSize = {0, 0}, sdxlCropTopLeft = {0, 0};

        private Builder(String prompt) { this.prompt = Objects.requireNonNull(prompt, "prompt"); }

        /**
         * Sets the prompt.
         *
         * @param p the prompt; not null
         * @return this builder
         */
        public Builder prompt(String p) { prompt = Objects.requireNonNull(p, "prompt"); return this; }
        /**
         * What to steer away from. Used only with classifier-free guidance (guidance scale above 1 on a non-LCM
         * U-Net); otherwise it has no effect. Padded to the prompt's chunk count (and the prompt to its).
         *
         * @param n the negative prompt; null or empty for none
         * @return this builder
         */
        public Builder negativePrompt(String n) { negativePrompt = n == null ? "" : n; return this; }
        /**
         * Sets the sampler by name: one of {@link dev.jdiffusion.sampling.Schedulers#NAMES} (lcm, ddim, euler,
         * euler_a, dpmpp_2m, dpmpp_2m_karras; any case; checked when the request runs).

         *
         * @param s the sampler's name; null for the family's default
         * @return this builder
         */
        public Builder sampler(String s) { sampler = s; return this; }
        /**
         * Denoising steps, 1 to {@link #MAX_STEPS}; left unset, the family's default.
         *
         * @param s the steps (image-to-image runs about strength x s of them)
         * @return this builder
         */
        public Builder steps(int s) { steps = s; stepsSet = true; return this; }
        /**
         * Image size in pixels: multiples of 8 from 8 to {@link #MAX_SIDE}; left unset, the init image's size, else
         * the family's native size.
         *
         * @param w width in pixels
         * @param h height in pixels
         * @return this builder
         */
        public Builder size(int w, int h) { return width(w).height(h); }
        /**
         * Sets the image width in pixels (see {@link #size}).
         *
         * @param w width in pixels, a multiple of 8 from 8 to {@link #MAX_SIDE}
         * @return this builder
         */
        public Builder width(int w) { width = w; widthSet = true; return this; }
        /**
         * Sets the image height in pixels (see {@link #size}).
         *
         * @param h height in pixels, a multiple of 8 from 8 to {@link #MAX_SIDE}
         * @return this builder
         */
        public Builder height(int h) { height = h; heightSet = true; return this; }
        /**
         * Images per run, 1 to {@link #MAX_BATCH}. Image i gets its own seed, seed + i (as the popular UIs do), so
         * each image is the one a single-image run of its seed gives, and its parameters reproduce it alone.
         *
         * @param b the batch size (default 1)
         * @return this builder
         */
        public Builder batch(int b) { batch = b; return this; }
        /**
         * Draw the whole batch's noise from one generator of the seed, as diffusers does (image 0 is still the seed's
         * single-image result; the others continue the same random stream and cannot be reproduced alone).
         *
         * @param on true for diffusers' shared stream (default false: a seed per image)
         * @return this builder
         */
        public Builder sharedBatchNoise(boolean on) { sharedBatchNoise = on; return this; }
        /**
         * Which text encoder layer conditions the U-Net.
         *
         * @param c 1 = last layer (default), 2 = penultimate layer through the final norm, ... up to 12
         * @return this builder
         */
        public Builder clipSkip(int c) { clipSkip = c; return this; }
        /**
         * Guidance scale: classifier-free guidance (1 or less = none) or, for LCM U-Nets, the guidance embedding's
         * w. Unset takes the family's default; an explicit NaN or infinity is rejected by {@link #build()}.
         *
         * @param g the scale, 0 to 100
         * @return this builder
         */
        public Builder guidanceScale(float g) { guidanceScale = g; guidanceSet = true; return this; }
        /**
         * Image-to-image: how much of the init image is replaced by noise.
         *
         * @param s the strength in (0, 1]; default 0.8, with a mask 1
         * @return this builder
         */
        public Builder strength(float s) { strength = s; strengthSet = true; return this; }
        /**
         * DDIM's eta (the ddim sampler only; a request with another sampler and eta above 0 is refused when it runs).
         *
         * @param e eta in [0, 1]; 0 = deterministic (default)
         * @return this builder
         */
        public Builder eta(float e) { eta = e; return this; }
        /**
         * Sets the seed (without one, a random seed is drawn and reported in the result).
         *
         * @param s the seed; the same seed and request give the same bits
         * @return this builder
         */
        public Builder seed(long s) { seed = s; return this; }
        /**
         * Sets the init image for image-to-image.
         *
         * @param img [1, 3, H, W] in [0, 1] (e.g. from {@link dev.jdiffusion.image.Images#read}); null for
         *            text-to-image. Not copied: leave it unchanged while the request is in use
         * @return this builder
         */
        public Builder initImage(Tensor img) { initImage = img; return this; }
        /**
         * Report a cheap preview image with each progress event (uses TAESD when loaded).
         *
         * @param p true for previews (default false)
         * @return this builder
         */
        public Builder previews(boolean p) { previews = p; return this; }
        /**
         * Sets the listener told about every denoising step.
         *
         * @param l the listener, called on the generating thread; null for none
         * @return this builder
         */
        public Builder progress(ProgressListener l) { progress = l == null ? ProgressListener.NONE : l; return this; }
        /**
         * Sets the token that cancels this request.
         *
         * @param t the token; not null (a token stays cancelled: use a new one per request)
         * @return this builder
         */
        public Builder cancellation(CancellationToken t) { cancellation = Objects.requireNonNull(t); return this; }
        /**
         * Adds a ControlNet acting on every step at scale 1.
         *
         * @param net   the loaded ControlNet
         * @param image the control image [1, 3, H, W] in [0, 1]
         * @return this builder
         * @throws IllegalArgumentException as {@link Control}'s constructor
         */
        public Builder control(ControlNet net, Tensor image) { return control(net, image, 1f, 0f, 1f); }
        /**
         * Adds a ControlNet with its scale and the fraction of the steps it acts on; several are summed.
         *
         * @param net           the loaded ControlNet
         * @param image         the control image [1, 3, H, W] in [0, 1]
         * @param scale         the conditioning scale, 0 to 10
         * @param guidanceStart the fraction of the steps after which it acts, in [0, 1)
         * @param guidanceEnd   the fraction after which it stops, in (guidanceStart, 1]
         * @return this builder
         * @throws IllegalArgumentException as {@link Control}'s constructor (checked here, not in build)
         */
        public Builder control(ControlNet net, Tensor image, float scale, float guidanceStart, float guidanceEnd) {
            controls.add(new Control(net, image, scale, guidanceStart, guidanceEnd));
            return this;
        }
        /**
         * Inpainting: repaint where the mask ([1, 1, H, W] in [0, 1], see {@link Inpainting#maskFromImage}) is white
         * (binarised at 0.5), starting from the init image (required) at {@link #strength}. An inpainting U-Net
         * (9 input channels) sees the mask and the masked image; an ordinary one keeps the unmasked part at each step.
         * A mask of another size than the init image is resized to it.
         *
         * @param m the mask [1, 1, H, W] in [0, 1]; null for no inpainting
         * @return this builder
         */
        public Builder mask(Tensor m) { mask = m; return this; }
        /**
         * Blur of the mask for the final composite.
         *
         * @param px Gaussian sigma in pixels, 0 to 64; default 4 (A1111's)
         * @return this builder
         */
        public Builder maskBlur(int px) { maskBlur = px; return this; }
        /**
         * Composite an inpainting result over the init image.
         *
         * @param on true (default) to composite; false returns the decoded image as is
         * @return this builder
         */
        public Builder composite(boolean on) { composite = on; return this; }
        /**
         * Adds a LoRA file (kohya / A1111, LoCon, diffusers or PEFT .safetensors) at a weight (negative allowed) for
         * this request only; the model is not reloaded when the next request uses others.
         *
         * @param file   the LoRA file (read when the request runs)
         * @param weight its multiplier, finite, within [-100, 100]
         * @return this builder
         * @throws IllegalArgumentException a weight out of range (checked here)
         */
        public Builder lora(java.nio.file.Path file, float weight) { loras.add(new LoraRef(file, weight)); return this; }
        /**
         * SDXL micro-conditioning: the size the image is said to have been before cropping (ignored by other models).
         *
         * @param height original height in pixels, 0 to 65536 (0, 0: the output size)
         * @param width  original width in pixels, 0 to 65536
         * @return this builder
         */
        public Builder sdxlOriginalSize(int height, int width) { sdxlOriginalSize = new int[]{height, width}; return this; }
        /**
         * SDXL micro-conditioning: the crop's top-left corner (ignored by other models).
         *
         * @param top  crop top in pixels, 0 to 65536 (default 0)
         * @param left crop left in pixels, 0 to 65536 (default 0)
         * @return this builder
         */
        public Builder sdxlCropTopLeft(int top, int left) { sdxlCropTopLeft = new int[]{top, left}; return this; }

        /**
         * Validates and builds. This is the one place where every field's range is checked (the CLI relies on it
         * and names its flag for the {@link InvalidFieldException#field()}).
         *
         * @return a new immutable request
         * @throws InvalidFieldException    naming the bad field
         * @throws IllegalArgumentException SDXL sizes outside 0..65536
         */
        public GenerationRequest build() {
            if (stepsSet && (steps < 1 || steps > MAX_STEPS)) throw bad(STEPS, "must be between 1 and " + MAX_STEPS + ", got " + steps);
            if (widthSet) checkSide(WIDTH, width);
            if (heightSet) checkSide(HEIGHT, height);
            if (batch < 1 || batch > MAX_BATCH) throw bad(BATCH, "must be between 1 and " + MAX_BATCH + ", got " + batch);
            if (clipSkip < 1 || clipSkip > 12) throw bad(CLIP_SKIP, "must be between 1 and 12, got " + clipSkip);
            if (guidanceSet && !(Float.isFinite(guidanceScale) && guidanceScale >= 0 && guidanceScale <= 100))
                throw bad(GUIDANCE, "must be between 0 and 100, got " + guidanceScale);
            if (!(strength > 0f && strength <= 1f)) throw bad(STRENGTH, "must be in (0, 1], got " + strength);
            if (!(eta >= 0f && eta <= 1f)) throw bad(ETA, "must be in [0, 1], got " + eta);
            if (sdxlOriginalSize[0] < 0 || sdxlOriginalSize[1] < 0 || sdxlCropTopLeft[0] < 0 || sdxlCropTopLeft[1] < 0
                    || sdxlOriginalSize[0] > 65536 || sdxlOriginalSize[1] > 65536 || sdxlCropTopLeft[0] > 65536 || sdxlCropTopLeft[1] > 65536)
                throw new IllegalArgumentException("SDXL original size and crop must be in 0..65536");
            if (initImage != null && (initImage.rank() != 4 || initImage.dim(0) != 1 || initImage.dim(1) != 3))
                throw bad(INIT_IMAGE, "must be [1, 3, H, W], got " + initImage);
            if (mask != null && (mask.rank() != 4 || mask.dim(0) != 1 || mask.dim(1) != 1))
                throw bad(MASK, "must be [1, 1, H, W], got " + mask);
            if (mask != null && initImage == null) throw bad(MASK, "needs an init image to inpaint");
            if (mask != null && !strengthSet) strength = 1f;
            if (maskBlur < 0 || maskBlur > 64) throw bad(MASK_BLUR, "must be between 0 and 64 pixels, got " + maskBlur);
            return new GenerationRequest(this);
        }

        private static void checkSide(String name, int v) {
            if (v < 8 || v > MAX_SIDE || v % 8 != 0) throw bad(name, "must be a multiple of 8 between 8 and " + MAX_SIDE + ", got " + v);
        }
    }

    /** Field names, as {@link InvalidFieldException#field()} gives them. */
    public static final String STEPS = "steps", WIDTH = "width", HEIGHT = "height", BATCH = "batch", CLIP_SKIP = "clip skip",
            GUIDANCE = "guidance scale", STRENGTH = "strength", ETA = "eta", INIT_IMAGE = "init image";
    /** Field names of inpainting. */
    public static final String MASK = "mask", MASK_BLUR = "mask blur";

    private static InvalidFieldException bad(String field, String what) { return new InvalidFieldException(field, field + " " + what); }

    /** A request field out of its range; the message starts with the field's name. */
    public static final class InvalidFieldException extends IllegalArgumentException {
        /** The field's name (serialized with the exception). */
        private final String field;


        /**
         * An error about one field.
         *
         * @param field   the field's name, one of the names above
         * @param message the whole one-line message, starting with the field's name
         */
        public InvalidFieldException(String field, String message) {
            super(message);
            this.field = field;
        }

        /** {@return the field, one of the names above ({@link #STEPS}, {@link #WIDTH}, ...)} */

        public String field() { return field; }
    }
}

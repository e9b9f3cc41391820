package dev.jdiffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;

import java.util.Arrays;

/**
 * diffusers' {@code AutoencoderKL} (the Stable Diffusion VAE): {@link #encode} an image in [-1, 1] to a
 * {@link LatentDist}, {@link #decode} latents (already divided by the scaling factor) to an image in [-1, 1].
 * Weights under diffusers' names (a {@code vae/} folder, or a single file through {@code VaeKeys}); F32, F16 or
 * BF16. The architecture (channels, blocks, latent channels) is read from the tensor shapes; the config gives the
 * group count and the scaling factor (SD defaults without one).
 *
 * <p>Large latents are decoded in overlapping tiles (see {@link Tiling}); the result then differs slightly from an
 * untiled decode (GroupNorm statistics are per tile), exactly as with diffusers' {@code enable_tiling()}.
 */
public final class AutoencoderKL implements ImageAutoencoder {
    /** When {@link #decode(Tensor)} tiles. */
    public enum Tiling {
        /** Tile when the latent has more than {@link #AUTO_TILE_LATENT_PIXELS} pixels (images above 768x768 for SD). */
        AUTO,
        /** Tile whenever a latent side exceeds the tile size (diffusers' {@code enable_tiling()}). */
        ON,
        /** Never tile. */
        OFF
    }

    /**
     * Latent pixels above which {@link Tiling#AUTO} tiles: 96 x 96 (768 x 768 images). Untiled decode memory grows
     * with the area (SD's decoder keeps several 256-channel activations at full image size: about 0.6 GiB each at
     * 768 x 768, 1.1 GiB at 1024 x 1024, plus the convolution's unfolded input); a tiled decode keeps only
     * tile-sized activations and the output image. SD 2.x's native 768 x 768 still decodes untiled, exactly as diffusers.
     */
    public static final int AUTO_TILE_LATENT_PIXELS = 96 * 96;

    /** diffusers' default tile: 64 latent pixels (512 image pixels for SD), overlap 0.25. */
    public static final int DEFAULT_TILE = 64;
    public static final float DEFAULT_OVERLAP = 0.25f;

    private final VaeConfig config;
    private final VaeDecoder decoder;
    private final VaeEncoder encoder;
    private final String description;
    private volatile Tiling tiling = Tiling.AUTO;
    private volatile int tile = DEFAULT_TILE;
    private volatile float overlap = DEFAULT_OVERLAP;
    private AutoCloseable owner;

    private AutoencoderKL(VaeConfig config, VaeDecoder decoder, VaeEncoder encoder, String description) {
        this.config = config;
        this.decoder = decoder;
        this.encoder = encoder;
        this.description = description;
    }

    /** Loads from tensors under diffusers' names and a diffusers config.json (null: SD defaults). */
    public static AutoencoderKL load(TensorSource s, JsonNode configOrNull) {
        return load(s, VaeConfig.of(configOrNull, s.description()));
    }

    /**
     * Loads from tensors under diffusers' names. The decoder is required; the encoder is loaded when its weights are
     * present (some VAE files ship only the decoder). Every shape is checked here, before any compute.
     */
    public static AutoencoderKL load(TensorSource s, VaeConfig config) {
        if (!s.contains("decoder.conv_in.weight"))
            throw new ModelFormatException(s.description() + ": not an AutoencoderKL (no decoder.conv_in.weight)");
        VaeDecoder dec = new VaeDecoder(s, config.normGroups());
        VaeEncoder enc = s.contains("encoder.conv_in.weight") ? new VaeEncoder(s, config.normGroups()) : null;
        if (enc != null && enc.momentChannels() != 2 * dec.latentChannels())
            throw new ModelFormatException(s.description() + ": encoder outputs " + enc.momentChannels() + " moment channels, expected 2 x "
                    + dec.latentChannels() + " latent channels of the decoder");
        if (config.latentChannels() > 0 && config.latentChannels() != dec.latentChannels())
            throw new ModelFormatException(s.description() + ": config says latent_channels " + config.latentChannels()
                    + " but the weights take " + dec.latentChannels());
        return new AutoencoderKL(config, dec, enc, s.description());
    }

    /**
     * The tensors (diffusers' names and shapes) of an {@code AutoencoderKL} with these sizes, encoder, decoder and the
     * quant convolutions, as {@link #load} reads them: diffusers' {@code in_channels}, {@code out_channels},
     * {@code latent_channels}, {@code block_out_channels} and {@code layers_per_block}. For synthetic weights.
     */
    public static java.util.Map<String, long[]> tensorShapes(int inChannels, int outChannels, int latentChannels, int[] blocks, int layersPerBlock) {
        java.util.Map<String, long[]> m = new java.util.LinkedHashMap<>();
        int n = blocks.length, top = blocks[n - 1];
        conv(m, "encoder.conv_in", blocks[0], inChannels, 3);
        int prev = blocks[0];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < layersPerBlock; j++) resnet(m, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? prev : blocks[i], blocks[i]);
            if (i < n - 1) conv(m, "encoder.down_blocks." + i + ".downsamplers.0.conv", blocks[i], blocks[i], 3);
            prev = blocks[i];
        }
        midBlock(m, "encoder.mid_block", top);
        norm(m, "encoder.conv_norm_out", top);
        conv(m, "encoder.conv_out", 2 * latentChannels, top, 3);
        conv(m, "quant_conv", 2 * latentChannels, 2 * latentChannels, 1);
        conv(m, "post_quant_conv", latentChannels, latentChannels, 1);
        conv(m, "decoder.conv_in", top, latentChannels, 3);
        midBlock(m, "decoder.mid_block", top);
        prev = top;
        for (int i = 0; i < n; i++) {
            int c = blocks[n - 1 - i];
            for (int j = 0; j <= layersPerBlock; j++) resnet(m, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? prev : c, c);
            if (i < n - 1) conv(m, "decoder.up_blocks." + i + ".upsamplers.0.conv", c, c, 3);
            prev = c;
        }
        norm(m, "decoder.conv_norm_out", blocks[0]);
        conv(m, "decoder.conv_out", outChannels, blocks[0], 3);
        return m;
    }

    private static void midBlock(java.util.Map<String, long[]> m, String p, int c) {
        resnet(m, p + ".resnets.0", c, c);
        norm(m, p + ".attentions.0.group_norm", c);
        for (String n : new String[]{"to_q", "to_k", "to_v", "to_out.0"}) {
            m.put(p + ".attentions.0." + n + ".weight", new long[]{c, c});
            m.put(p + ".attentions.0." + n + ".bias", new long[]{c});
        }
        resnet(m, p + ".resnets.1", c, c);
    }

    private static void resnet(java.util.Map<String, long[]> m, String p, int in, int out) {
        norm(m, p + ".norm1", in);
        conv(m, p + ".conv1", out, in, 3);
        norm(m, p + ".norm2", out);
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) conv(m, p + ".conv_shortcut", out, in, 1);
    }

    private static void norm(java.util.Map<String, long[]> m, String p, int c) {
        m.put(p + ".weight", new long[]{c});
        m.put(p + ".bias", new long[]{c});
    }

    private static void conv(java.util.Map<String, long[]> m, String p, int out, int in, int k) {
        m.put(p + ".weight", new long[]{out, in, k, k});
        m.put(p + ".bias", new long[]{out});
    }

    /** Makes this model close owner (the files it was opened from) in {@link #close()}. */
    AutoencoderKL owning(AutoCloseable owner) {
        this.owner = owner;
        return this;
    }

    public VaeConfig config() { return config; }
    public float scalingFactor() { return config.scalingFactor(); }
    public float shiftFactor() { return config.shiftFactor(); }
    @Override public int latentChannels() { return decoder.latentChannels(); }
    @Override public int spatialFactor() { return decoder.upscale(); }
    @Override public boolean canEncode() { return encoder != null; }
    @Override public boolean canDecode() { return true; }

    /** Sets when {@link #decode(Tensor)} tiles. */
    public AutoencoderKL setTiling(Tiling t) {
        this.tiling = java.util.Objects.requireNonNull(t);
        return this;
    }

    public Tiling tiling() { return tiling; }

    /** Tile side in latent pixels for tiled decoding. */
    public int tileSize() { return tile; }

    /** Overlap of neighbouring tiles, as a fraction of the tile side. */
    public float tileOverlap() { return overlap; }

    /** Tile side in latent pixels and overlap factor; tile * overlap must be a whole number. */
    public AutoencoderKL setTileSize(int tileLatent, float overlapFactor) {
        if (tileLatent < 2 || !(overlapFactor > 0 && overlapFactor <= 0.5f))
            throw new IllegalArgumentException("tile must be >= 2 and overlap in (0, 0.5], got " + tileLatent + ", " + overlapFactor);
        int stride = (int) (tileLatent * (1 - overlapFactor));
        int f = spatialFactor();
        if (stride * f != tileLatent * f - (int) (tileLatent * f * overlapFactor))
            throw new IllegalArgumentException("tile " + tileLatent + " x overlap " + overlapFactor + " must be a whole number of latent pixels");
        this.tile = tileLatent;
        this.overlap = overlapFactor;
        return this;
    }

    /** True when {@link #decode(Tensor)} decodes latents of this size in tiles (the one rule; the memory estimate asks it too). */
    public boolean tiles(int latentH, int latentW) { return tiles(tiling, tile, latentH, latentW); }

    /** True when a decode with this tiling choice and tile side (latent pixels) tiles latents of this size. */
    public static boolean tiles(Tiling t, int tile, int latentH, int latentW) {
        boolean bigger = latentH > tile || latentW > tile;
        return switch (t) {
            case OFF -> false;
            case ON -> bigger;
            case AUTO -> bigger && (long) latentH * latentW > AUTO_TILE_LATENT_PIXELS;
        };
    }

    /** Latents [n, c, h, w], already divided by the scaling factor, to an image [n, 3, 8h, 8w] in about [-1, 1]. */
    public Tensor decode(Tensor latents) { return decode(latents, tiling); }

    /** {@link #decode(Tensor)} with an explicit tiling choice. */
    public Tensor decode(Tensor latents, Tiling t) {
        checkLatents(latents);
        int n = latents.dim(0);
        if (n > 1) {
            // One image at a time: the decoder's full-size activations exist for one image only (same result: every
            // layer treats the images of a batch independently).
            Tensor out = null;
            int per = latents.numel() / n;
            for (int i = 0; i < n; i++) {
                float[] zi = java.util.Arrays.copyOfRange(latents.data(), i * per, (i + 1) * per);
                Tensor img = decode(new Tensor(zi, 1, latents.dim(1), latents.dim(2), latents.dim(3)), t);
                if (out == null) out = Tensor.zeros(n, img.dim(1), img.dim(2), img.dim(3));
                System.arraycopy(img.data(), 0, out.data(), i * img.numel(), img.numel());
            }
            return out;
        }
        if (!tiles(t, tile, latents.dim(2), latents.dim(3))) return decoder.forward(latents);
        return TiledDecoder.decode(latents, tile, overlap, spatialFactor(), decoder.outChannels(), decoder::forward);
    }

    /**
     * The whole batch through the decoder's layers at once, untiled (tests: {@link #decode} goes one image at a time,
     * and must give what the batched layers give, since every layer treats the images of a batch independently).
     */
    Tensor decodeInOnePass(Tensor latents) {
        checkLatents(latents);
        return decoder.forward(latents);
    }

    /** An image [n, 3, H, W] in [-1, 1] (H, W multiples of 8 for an exact round trip) to the latent distribution. */
    public LatentDist encode(Tensor image) {
        if (encoder == null) throw new IllegalStateException(description + ": this VAE has no encoder weights");
        if (image.rank() != 4 || image.dim(1) != encoder.inChannels())
            throw new IllegalArgumentException("expected an image [n, " + encoder.inChannels() + ", H, W], got " + Arrays.toString(image.shape()));
        if (image.dim(2) < 2 || image.dim(3) < 2) throw new IllegalArgumentException("image too small: " + Arrays.toString(image.shape()));
        return new LatentDist(encoder.forward(image));
    }

    @Override public Tensor encodeImage(Tensor image01) {
        float[] src = image01.data(), x = new float[src.length];
        for (int i = 0; i < x.length; i++) x[i] = src[i] * 2f - 1f;
        Tensor mean = encode(new Tensor(x, image01.shape())).mean();
        float[] m = mean.data();
        float sf = scalingFactor(), shift = shiftFactor();
        for (int i = 0; i < m.length; i++) m[i] = (m[i] - shift) * sf;
        return mean;
    }

    @Override public Tensor decodeLatents(Tensor latents) {
        checkLatents(latents);
        float[] src = latents.data(), z = new float[src.length];
        float sf = scalingFactor(), shift = shiftFactor();
        for (int i = 0; i < z.length; i++) z[i] = src[i] / sf + shift;
        Tensor img = decode(new Tensor(z, latents.shape()));
        float[] d = img.data();
        for (int i = 0; i < d.length; i++) d[i] = Math.min(1f, Math.max(0f, d[i] / 2f + 0.5f));
        return img;
    }

    private void checkLatents(Tensor z) {
        if (z.rank() != 4 || z.dim(1) != latentChannels())
            throw new IllegalArgumentException("expected latents [n, " + latentChannels() + ", h, w], got " + Arrays.toString(z.shape()));
    }

    /** Floating-point operations (2 x multiply-adds) of one untiled decode to an image of imageHeight x imageWidth. */
    public long decodeFlops(int imageHeight, int imageWidth) {
        int f = spatialFactor();
        return decoder.flops(imageHeight / f, imageWidth / f);
    }

    /**
     * Floating-point operations of one decode with diffusers' standard decoder for the given architecture (SD:
     * blockOut {128, 256, 512, 512}, 2 layers per block, 4 latent channels, mid attention), for benchmarks that
     * have no weights at hand.
     */
    public static long decoderFlops(int[] blockOut, int layersPerBlock, int latentChannels, int imageHeight, int imageWidth) {
        int levels = blockOut.length;
        int h = imageHeight >> (levels - 1), w = imageWidth >> (levels - 1);
        int top = blockOut[levels - 1];
        long f = conv(latentChannels, latentChannels, 1, h, w) + conv(latentChannels, top, 3, h, w);
        long t = (long) h * w;
        f += 2 * resnet(top, top, h, w) + 4 * 2L * t * top * top + 2 * 2L * t * t * top;
        int ch = top;
        for (int i = 0; i < levels; i++) {
            int out = blockOut[levels - 1 - i];
            for (int j = 0; j <= layersPerBlock; j++) {
                f += resnet(ch, out, h, w);
                ch = out;
            }
            if (i < levels - 1) {
                h *= 2;
                w *= 2;
                f += conv(ch, ch, 3, h, w);
            }
        }
        return f + conv(ch, 3, 3, h, w);
    }

    private static long conv(int cin, int cout, int k, int h, int w) { return 2L * cin * cout * k * k * h * w; }

    private static long resnet(int cin, int cout, int h, int w) {
        return conv(cin, cout, 3, h, w) + conv(cout, cout, 3, h, w) + (cin != cout ? conv(cin, cout, 1, h, w) : 0);
    }

    @Override public void close() {
        if (owner != null) {
            try {
                owner.close();
            } catch (Exception e) {
                throw new IllegalStateException(description + ": closing: " + e.getMessage(), e);
            }
        }
    }

    @Override public String toString() {
        return "AutoencoderKL[" + description + ", latent channels " + latentChannels() + ", scaling " + scalingFactor() + "]";
    }
}

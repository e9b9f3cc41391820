package dev.jdiffusion.model.taesd;

import dev.jdiffusion.model.vae.ImageAutoencoder;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A TAESD-family tiny autoencoder (madebyollin/taesd): images in [0, 1], latents unscaled (the diffusion model's
 * own latent space, no scaling factor), as taesd.py. The architecture is rebuilt from the weights (see
 * {@link TaesdNet}), so TAESD, TAESDXL, TAESD3, TAEF1 and TAEF2 all load. Either half may be absent.
 *
 * <p>Weights: taesd.py's {@code taesd_encoder.safetensors} / {@code taesd_decoder.safetensors} ({@code 0.weight},
 * {@code 1.conv.0.weight} ...), or diffusers' {@code AutoencoderTiny} ({@code encoder.layers.N...}, {@code decoder.layers.N...}).
 */
public final class Taesd implements ImageAutoencoder {
    private final TaesdNet encoder, decoder;
    private final List<AutoCloseable> owned = new ArrayList<>();

    private Taesd(TaesdNet encoder, TaesdNet decoder) {
        this.encoder = encoder;
        this.decoder = decoder;
        if (encoder != null && decoder != null && encoder.outChannels() != decoder.inChannels())
            throw new ModelFormatException("TAESD encoder makes " + encoder.outChannels() + " latent channels but the decoder takes " + decoder.inChannels());
    }

    /** taesd.py naming: the encoder's and the decoder's tensors (either may be null). */
    public static Taesd load(TensorSource encoderOrNull, TensorSource decoderOrNull) {
        if (encoderOrNull == null && decoderOrNull == null) throw new IllegalArgumentException("need an encoder or a decoder");
        return new Taesd(encoderOrNull == null ? null : TaesdNet.build(encoderOrNull, "", TaesdNet.Role.ENCODER, false),
                decoderOrNull == null ? null : TaesdNet.build(decoderOrNull, "", TaesdNet.Role.DECODER, false));
    }

    /** diffusers' AutoencoderTiny naming ({@code encoder.layers.N...}, {@code decoder.layers.N...}); either half may be missing. */
    public static Taesd loadDiffusers(TensorSource s) {
        boolean e = hasPrefix(s, "encoder.layers."), d = hasPrefix(s, "decoder.layers.");
        if (!e && !d) throw new ModelFormatException(s.description() + ": no encoder.layers.* or decoder.layers.* tensors (AutoencoderTiny)");
        return new Taesd(e ? TaesdNet.build(s, "encoder.layers.", TaesdNet.Role.ENCODER, true) : null,
                d ? TaesdNet.build(s, "decoder.layers.", TaesdNet.Role.DECODER, true) : null);
    }

    /** True when the source looks like one half of a taesd.py checkpoint (Sequential indices at the top level). */
    public static boolean isTaesdHalf(TensorSource s) {
        return !s.names().isEmpty() && s.names().stream().allMatch(n -> !n.isEmpty() && Character.isDigit(n.charAt(0)));
    }

    /** True for diffusers' AutoencoderTiny naming. */
    public static boolean isDiffusersTiny(TensorSource s) {
        return hasPrefix(s, "encoder.layers.") || hasPrefix(s, "decoder.layers.");
    }

    /** True when a taesd.py half is an encoder: its Sequential starts with a conv, a decoder's with the weightless Clamp. */
    public static boolean isEncoderHalf(TensorSource s) { return s.contains("0.weight"); }

    private static boolean hasPrefix(TensorSource s, String p) { return s.names().stream().anyMatch(n -> n.startsWith(p)); }

    /**
     * Opens TAESD weights from paths: a folder holding {@code *encoder*.safetensors} and/or {@code *decoder*.safetensors}
     * (or a diffusers {@code AutoencoderTiny} folder), or one or two {@code .safetensors} files (each a taesd.py half,
     * told apart by their layers, or a whole AutoencoderTiny file). The returned model owns the files.
     */
    public static Taesd open(Path... paths) {
        if (paths.length == 0) throw new IllegalArgumentException("no TAESD path given");
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) files.addAll(filesIn(p));
            else if (Files.isRegularFile(p)) files.add(p);
            else throw new ModelFormatException(p + ": no such file or folder");
        }
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            TensorSource enc = null, dec = null;
            Taesd tiny = null;
            for (Path f : files) {
                SafetensorsFile s = SafetensorsFile.open(f);
                opened.add(s);
                if (isDiffusersTiny(s)) {
                    if (tiny != null || enc != null || dec != null) throw new ModelFormatException(f + ": more than one TAESD model given");
                    tiny = loadDiffusers(s);
                } else if (isTaesdHalf(s)) {
                    if (isEncoderHalf(s)) {
                        if (enc != null) throw new ModelFormatException(f + ": two TAESD encoders given (" + enc.description() + ")");
                        enc = s;
                    } else {
                        if (dec != null) throw new ModelFormatException(f + ": two TAESD decoders given (" + dec.description() + ")");
                        dec = s;
                    }
                } else throw new ModelFormatException(f + ": not TAESD weights (expected N.weight / N.conv.0.weight or encoder.layers.* tensors)");
            }
            Taesd t;
            if (tiny != null) {
                if (enc != null || dec != null) throw new ModelFormatException("both an AutoencoderTiny file and taesd.py halves given");
                t = tiny;
            } else t = load(enc, dec);
            t.owned.addAll(opened);
            return t;
        } catch (RuntimeException e) {
            for (SafetensorsFile s : opened) s.close();
            throw e;
        }
    }

    private static List<Path> filesIn(Path dir) {
        try (Stream<Path> st = Files.list(dir)) {
            List<Path> all = st.filter(f -> f.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            List<Path> enc = all.stream().filter(f -> name(f).contains("encoder")).toList();
            List<Path> dec = all.stream().filter(f -> name(f).contains("decoder")).toList();
            if (enc.size() > 1 || dec.size() > 1)
                throw new ModelFormatException(dir + ": several TAESD encoders/decoders here " + all.stream().map(Path::getFileName).toList() + "; name the files");
            List<Path> out = new ArrayList<>(enc);
            out.addAll(dec);
            if (out.isEmpty()) {
                Path d = dir.resolve("diffusion_pytorch_model.safetensors");
                if (Files.isRegularFile(d)) out.add(d);
            }
            if (out.isEmpty()) throw new ModelFormatException(dir + ": no *encoder*.safetensors / *decoder*.safetensors (TAESD) here");
            return out;
        } catch (IOException e) {
            throw new ModelFormatException(dir + ": cannot list: " + e.getMessage());
        }
    }

    private static String name(Path f) { return f.getFileName().toString().toLowerCase(Locale.ROOT); }

    @Override public int latentChannels() { return decoder != null ? decoder.inChannels() : encoder.outChannels(); }

    @Override public int spatialFactor() { return decoder != null ? decoder.outSize(1) : 1024 / encoder.outSize(1024); }

    @Override public boolean canEncode() { return encoder != null; }
    @Override public boolean canDecode() { return decoder != null; }

    /** Image [n, 3, H, W] in [0, 1] to raw latents [n, c, H/f, W/f] (taesd.py's {@code Encoder}). */
    public Tensor encode(Tensor image01) {
        if (encoder == null) throw new IllegalStateException("this TAESD has no encoder weights");
        return encoder.forward(image01);
    }

    /** Raw latents to the decoder's output image, nominally in [0, 1] but not clamped (taesd.py's {@code Decoder}). */
    public Tensor decode(Tensor latents) {
        if (decoder == null) throw new IllegalStateException("this TAESD has no decoder weights");
        if (latents.rank() != 4 || latents.dim(1) != decoder.inChannels())
            throw new IllegalArgumentException("expected latents [n, " + decoder.inChannels() + ", h, w], got " + Arrays.toString(latents.shape()));
        return decoder.forward(latents);
    }

    @Override public Tensor encodeImage(Tensor image01) { return encode(image01); }

    @Override public Tensor decodeLatents(Tensor latents) {
        Tensor img = decode(latents);
        float[] d = img.data();
        for (int i = 0; i < d.length; i++) d[i] = Math.min(1f, Math.max(0f, d[i]));
        return img;
    }

    /** Operations of one decode to an image of imageHeight x imageWidth. */
    public long decodeFlops(int imageHeight, int imageWidth) {
        if (decoder == null) return 0;
        int f = spatialFactor();
        return decoder.flops(imageHeight / f, imageWidth / f);
    }

    /** The rebuilt layers of both halves, for diagnostics. */
    public String describe() {
        return (encoder == null ? "" : "encoder:\n" + encoder.describe()) + (decoder == null ? "" : "decoder:\n" + decoder.describe());
    }

    @Override public void close() {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception ignored) {
                // unmapping cannot meaningfully fail
            }
        }
        owned.clear();
    }
}

package dev.jdiffusion.cli;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsWriter;
import dev.jdiffusion.model.vae.AutoencoderKL;
import dev.jdiffusion.model.vae.Autoencoders;
import dev.jdiffusion.model.vae.ImageAutoencoder;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code jdiffusion vae encode|decode}: images to latents and back with any supported VAE. */
final class VaeCommand {
    private VaeCommand() {}

    static final String USAGE = """
            usage: jdiffusion vae encode --vae PATH --image IN.png -o LATENT.safetensors
                   jdiffusion vae decode --vae PATH --latent LATENT.safetensors -o OUT.png [--tiling auto|on|off]
              --vae PATH     a diffusers model folder or its vae/ folder, a single-file checkpoint, a standalone VAE
                             .safetensors (diffusers or original naming), or TAESD weights: a folder holding the
                             encoder/decoder pair, or the files (repeat --vae or separate them with a comma)
              --image FILE   PNG or JPEG; width and height must be multiples of 8 (the VAE's factor)
              --latent FILE  safetensors with a tensor "latent" (or a single tensor), [1, C, h, w] or [C, h, w]
              -o FILE        output; written atomically (nothing is left behind on failure)
              --tiling MODE  KL VAE decode tiling: auto (above 768x768 images), on (tiles of 512 px), off
            Latents are written as safetensors, key "latent", F32 [1, C, h, w], in the space the U-Net works on:
            for a KL VAE the encoder's mean multiplied by the VAE's scaling_factor (0.18215 for SD), and decode
            divides by it; TAESD latents are unscaled (taesd.py's convention, the same latent space).""";

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) throw new UsageException("missing encode or decode", USAGE);
        if (args[0].equals("-h") || args[0].equals("--help")) {
            out.println(USAGE);
            return 0;
        }
        String mode = args[0];
        if (!mode.equals("encode") && !mode.equals("decode")) throw new UsageException("unknown subcommand '" + mode + "' (encode or decode)", USAGE);
        List<Path> vae = new ArrayList<>();
        Path image = null, latent = null, output = null;
        AutoencoderKL.Tiling tiling = AutoencoderKL.Tiling.AUTO;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                out.println(USAGE);
                return 0;
            }
            if (i + 1 >= args.length) throw new UsageException("option " + a + " needs a value", USAGE);
            String v = args[++i];
            switch (a) {
                case "--vae" -> {
                    for (String part : v.split(",")) if (!part.isBlank()) vae.add(Path.of(part.trim()));
                }
                case "--image" -> image = Path.of(v);
                case "--latent" -> latent = Path.of(v);
                case "-o", "--output" -> output = Path.of(v);
                case "--tiling" -> {
                    try {
                        tiling = AutoencoderKL.Tiling.valueOf(v.toUpperCase(Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--tiling must be auto, on or off, got '" + v + "'", USAGE);
                    }
                }
                default -> throw new UsageException("unknown option " + a, USAGE);
            }
        }
        if (vae.isEmpty()) throw new UsageException("missing --vae PATH", USAGE);
        if (output == null) throw new UsageException("missing -o FILE", USAGE);
        for (Path p : vae) if (!Files.exists(p)) throw new UsageException("--vae: no such file or folder: " + p, USAGE);
        try {
            if (mode.equals("encode")) {
                if (image == null) throw new UsageException("encode needs --image FILE", USAGE);
                if (latent != null) throw new UsageException("encode takes --image, not --latent", USAGE);
                return encode(vae, image, output, out);
            }
            if (latent == null) throw new UsageException("decode needs --latent FILE", USAGE);
            if (image != null) throw new UsageException("decode takes --latent, not --image", USAGE);
            return decode(vae, latent, output, tiling, out);
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            err.println("jdiffusion vae " + mode + ": " + e.getMessage());
            return 1;
        }
    }

    private static void checkOutputFolder(Path output) throws IOException {
        Path dir = output.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) throw new IOException("cannot write " + output + ": folder " + dir + " does not exist");
        if (!Files.isWritable(dir)) throw new IOException("cannot write " + output + ": folder " + dir + " is not writable");
        if (Files.isDirectory(output)) throw new IOException("cannot write " + output + ": it is a folder");
    }

    private static int encode(List<Path> vaePaths, Path imagePath, Path output, PrintStream out) throws IOException {
        checkOutputFolder(output);
        Tensor img = Images.read(imagePath);
        try (ImageAutoencoder vae = Autoencoders.open(vaePaths)) {
            if (!vae.canEncode()) throw new IllegalArgumentException("this VAE has no encoder weights (a TAESD decoder alone?)");
            int f = vae.spatialFactor(), h = img.dim(2), w = img.dim(3);
            if (h % f != 0 || w % f != 0)
                throw new IllegalArgumentException(imagePath + " is " + w + "x" + h + ": width and height must be multiples of " + f);
            long t0 = System.nanoTime();
            Tensor lat = vae.encodeImage(img);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("source_image", imagePath.getFileName().toString());
            meta.put("scaling", vae instanceof AutoencoderKL kl ? "mean * scaling_factor " + kl.scalingFactor() : "none (TAESD)");
            SafetensorsWriter.write(output, Map.of("latent", lat), DType.F32, meta);
            out.printf("encoded %s (%dx%d) to %s %s in %d ms%n", imagePath, w, h, output, Arrays.toString(lat.shape()), ms);
            return 0;
        }
    }

    private static int decode(List<Path> vaePaths, Path latentPath, Path output, AutoencoderKL.Tiling tiling, PrintStream out) throws IOException {
        checkOutputFolder(output);
        Tensor lat = readLatent(latentPath);
        try (ImageAutoencoder vae = Autoencoders.open(vaePaths)) {
            if (!vae.canDecode()) throw new IllegalArgumentException("this VAE has no decoder weights (a TAESD encoder alone?)");
            if (lat.dim(1) != vae.latentChannels())
                throw new IllegalArgumentException(latentPath + ": latent has " + lat.dim(1) + " channels, this VAE takes " + vae.latentChannels());
            if (vae instanceof AutoencoderKL kl) kl.setTiling(tiling);
            long t0 = System.nanoTime();
            Tensor img = vae.decodeLatents(lat);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            Images.writePng(output, img, Map.of("Software", "jdiffusion"));
            out.printf("decoded %s %s to %s (%dx%d) in %d ms%n", latentPath, Arrays.toString(lat.shape()), output, img.dim(3), img.dim(2), ms);
            return 0;
        }
    }

    private static Tensor readLatent(Path p) throws IOException {
        if (!Files.isRegularFile(p)) throw new IOException(p + ": no such file");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            TensorView v = f.find("latent");
            if (v == null) {
                if (f.names().size() != 1) throw new IllegalArgumentException(p + ": no tensor named 'latent' (has " + f.names() + ")");
                v = f.get(f.names().iterator().next());
            }
            if (!v.dtype().isFloating()) throw new IllegalArgumentException(p + ": latent has dtype " + v.dtype() + ", expected a float type");
            Tensor t = Tensor.of(v);
            if (t.rank() == 3) t = t.reshape(1, t.dim(0), t.dim(1), t.dim(2));
            if (t.rank() != 4 || t.dim(0) != 1)
                throw new IllegalArgumentException(p + ": latent has shape " + Arrays.toString(t.shape()) + ", expected [1, C, h, w]");
            for (float x : t.data()) if (!Float.isFinite(x)) throw new IllegalArgumentException(p + ": latent holds NaN or infinite values");
            return t;
        }
    }
}

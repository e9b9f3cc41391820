package dev.jdiffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.model.taesd.Taesd;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.VaeKeys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Opens whatever a user points at as "the VAE", deciding by the files' contents (never by their names alone):
 * <ul>
 *   <li>a diffusers model folder (uses its {@code vae/}), or a {@code vae/} folder itself ({@code AutoencoderKL} or
 *       {@code AutoencoderTiny} by its config.json);</li>
 *   <li>a single-file checkpoint ({@code first_stage_model.*});</li>
 *   <li>a standalone VAE {@code .safetensors} in diffusers' or the original naming (a {@code config.json} beside it is
 *       used when it describes an AutoencoderKL, else the SD defaults: 32 groups, scaling factor 0.18215);</li>
 *   <li>TAESD weights: a folder holding the encoder/decoder pair, one or two taesd.py files, or an AutoencoderTiny file.</li>
 * </ul>
 * The returned autoencoder owns the files it mapped; close it when done.
 */
public final class Autoencoders {
    private Autoencoders() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Opens one path (see the class comment). */
    public static ImageAutoencoder open(Path path) { return open(List.of(path)); }

    /** Opens one path, or two TAESD files (encoder and decoder). */
    public static ImageAutoencoder open(List<Path> paths) {
        if (paths.isEmpty()) throw new IllegalArgumentException("no VAE path given");
        if (paths.size() > 1) return Taesd.open(paths.toArray(Path[]::new));
        Path p = paths.get(0);
        if (Files.isDirectory(p)) return openFolder(p);
        if (!Files.isRegularFile(p)) throw new ModelFormatException(p + ": no such file or folder");
        return openFile(p);
    }

    private static ImageAutoencoder openFolder(Path dir) {
        boolean modelFolder = Files.isRegularFile(dir.resolve("model_index.json")) || Files.isDirectory(dir.resolve("unet"));
        Path vaeDir = modelFolder ? dir.resolve("vae") : dir;
        if (modelFolder && !Files.isDirectory(vaeDir)) throw new ModelFormatException(dir + ": model folder has no vae/ folder");
        Path cfgFile = vaeDir.resolve("config.json");
        if (!Files.isRegularFile(cfgFile)) {
            if (modelFolder) throw new ModelFormatException(vaeDir + ": no config.json");
            return Taesd.open(dir);
        }
        JsonNode cfg = readJson(cfgFile);
        String cls = cfg.path("_class_name").asText("AutoencoderKL");
        if (cls.equals("AutoencoderTiny")) return Taesd.open(vaeDir);
        if (!cls.equals("AutoencoderKL")) throw new ModelFormatException(cfgFile + ": " + cls + " is not a supported VAE class (AutoencoderKL, AutoencoderTiny)");
        TensorSource s = Checkpoint.openWeights(vaeDir);
        try {
            return AutoencoderKL.load(s, cfg).owning(s);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static ImageAutoencoder openFile(Path f) {
        String n = f.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (n.endsWith(".ckpt") || n.endsWith(".pt") || n.endsWith(".pth") || n.endsWith(".bin"))
            throw new ModelFormatException(f + ": pickle files are never loaded (they can run code); convert it to .safetensors");
        SafetensorsFile file = SafetensorsFile.open(f);
        try {
            if (Taesd.isDiffusersTiny(file) || Taesd.isTaesdHalf(file)) {
                file.close();
                return Taesd.open(f);
            }
            String single = Checkpoint.singlePrefix(Checkpoint.VAE);
            TensorSource s;
            VaeConfig cfg = VaeConfig.SD;
            if (file.names().stream().anyMatch(k -> k.startsWith(single))) {
                s = VaeKeys.diffusersView(file, single);
            } else if (file.contains("decoder.conv_in.weight")) {
                boolean diffusersNames = file.names().stream().anyMatch(k -> k.startsWith("decoder.up_blocks.") || k.startsWith("decoder.mid_block."));
                s = diffusersNames ? file : VaeKeys.diffusersView(file, "");
                Path side = f.toAbsolutePath().getParent().resolve("config.json");
                if (Files.isRegularFile(side)) {
                    JsonNode c = readJson(side);
                    if (c.path("_class_name").asText("").equals("AutoencoderKL")) cfg = VaeConfig.of(c, side.toString());
                }
            } else {
                throw new ModelFormatException(f + ": not a VAE: no first_stage_model.*, decoder.*, encoder.layers.* or TAESD tensors");
            }
            return AutoencoderKL.load(s, cfg).owning(file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static JsonNode readJson(Path f) {
        try {
            return JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(f + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}

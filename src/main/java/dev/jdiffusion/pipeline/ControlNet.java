package dev.jdiffusion.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.unet.ControlNetModel;
import dev.jdiffusion.model.unet.UNetConfig;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ControlNetKeys;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A loaded ControlNet, for {@code GenerationRequest.Builder.control}: a diffusers {@code ControlNetModel} folder
 * ({@code config.json} + weights, fp32/fp16/bf16 used in place from the mapped file) or one {@code .safetensors}
 * file in diffusers' or lllyasviel's naming ({@code control_model.*}). A single file stores no configuration: it
 * comes from a config given with it (a folder holding {@code config.json}, or the file itself), else from the shapes
 * (Stable Diffusion's fixed values for what shapes cannot tell). Load once, use in any number of requests; close
 * when done (unmaps the file). Thread-safe.
 */
public final class ControlNet implements AutoCloseable {
    private final String name;
    private final ControlNetModel model;
    private final AutoCloseable owned;
    /** Its mapped weights, for the memory estimate. */
    private final WeightPages weights;

    private ControlNet(String name, ControlNetModel model, AutoCloseable owned, TensorSource weights) {
        this.name = name;
        this.model = model;
        this.owned = owned;
        this.weights = new WeightPages(weights);
    }

    /** Bytes of its mapped weights: resident while it runs (every step), for {@link MemoryEstimate}. */
    long weightBytes() { return weights.bytes(); }

    /** Bytes of Winograd-transformed filters its 3x3 convolutions could cache, for {@link MemoryEstimate}. */
    long winogradFilterBytes() { return weights.winogradFilterBytes(dev.jdiffusion.kernels.Conv2d.WINOGRAD_MIN_CHANNELS); }

    /**
     * Loads a ControlNet folder or file; a single file's configuration is inferred from its shapes.
     *
     * @param path a diffusers ControlNet folder (config.json and weights) or one .safetensors file
     * @return the loaded ControlNet, which holds its file mapped until {@link #close()}
     * @throws ModelFormatException when the path is missing, not a ControlNet, or malformed (one line)
     */
    public static ControlNet load(Path path) { return load(path, null); }

    /**
     * Loads a ControlNet folder or file.
     *
     * @param path   a diffusers ControlNet folder (config.json and weights) or one .safetensors file
     * @param config a {@code config.json} or a folder holding one, describing a single file; null to use the folder's
     *               own or infer it
     * @return the loaded ControlNet, which holds its file mapped until {@link #close()}
     * @throws ModelFormatException when a path is missing, not a ControlNet, or malformed (one line)
     */
    public static ControlNet load(Path path, Path config) {
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such ControlNet file or folder");
        String name = path.getFileName().toString().replaceFirst("\\.safetensors$", "");
        TensorSource src = null;
        try {
            JsonNode cfg = null;
            if (config != null) cfg = Checkpoint.readJson(Files.isDirectory(config) ? config.resolve("config.json") : config);
            TensorSource view;
            if (Files.isDirectory(path)) {
                Path c = path.resolve("config.json");
                if (!Files.isRegularFile(c)) throw new ModelFormatException(path + ": not a ControlNet folder (no config.json)");
                if (cfg == null) cfg = Checkpoint.readJson(c);
                src = Checkpoint.openWeights(path);
                view = src;
            } else {
                Checkpoint.refusePickle(path);
                SafetensorsFile f = SafetensorsFile.open(path);
                src = f;
                view = ControlNetKeys.isOriginalLayout(f.names()) ? ControlNetKeys.diffusersView(f) : f;
            }
            if (!view.contains("controlnet_cond_embedding.conv_in.weight"))
                throw new ModelFormatException(path + ": not a ControlNet (no input_hint_block / controlnet_cond_embedding tensors)");
            return new ControlNet(name, ControlNetModel.load(view, cfg), src, view);

        } catch (RuntimeException e) {
            if (src != null) src.close();
            throw e;
        }
    }

    /** {@return the ControlNet's name (its folder or file name without .safetensors), for the parameters text} */
    public String name() { return name; }

    /** {@return the loaded network (an engine type; its weights stay valid until {@link #close()})} */
    public ControlNetModel model() { return model; }

    /**
     * Throws a one-line {@link IllegalArgumentException} when this ControlNet was made for another base model than
     * the U-Net's (text width, channels or layers differ: e.g. an SD 2.x ControlNet on an SD 1.5 model).
     *
     * @param unet      the configuration of the U-Net it is to guide
     * @param modelName that model's name, for the message
     * @throws IllegalArgumentException when the two do not fit, naming both
     */
    public void checkFits(UNetConfig unet, String modelName) {
        UNetConfig c = model.config().unet();
        if (c.crossAttentionDim() != unet.crossAttentionDim() || !java.util.Arrays.equals(c.blockOutChannels(), unet.blockOutChannels())
                || !java.util.Arrays.equals(c.layersPerBlock(), unet.layersPerBlock()) || !c.downBlockTypes().equals(unet.downBlockTypes()))
            throw new IllegalArgumentException("ControlNet " + name + " is for another base model (" + describe(c)
                    + ") than " + modelName + " (" + describe(unet) + ")");
    }

    private static String describe(UNetConfig c) {
        String fam = c.crossAttentionDim() == 768 ? "SD 1.x, " : c.crossAttentionDim() == 1024 ? "SD 2.x, " : c.crossAttentionDim() == 2048 ? "SDXL, " : "";
        return fam + "text width " + c.crossAttentionDim() + ", channels " + java.util.Arrays.toString(c.blockOutChannels());
    }

    /** Unmaps the weights; the ControlNet must not be used by a request after this. */
    @Override public void close() {

        try {
            owned.close();
        } catch (Exception ignored) {
            // unmapping does not fail in practice
        }
    }
}

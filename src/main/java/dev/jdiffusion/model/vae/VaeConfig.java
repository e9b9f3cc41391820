package dev.jdiffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.weights.ModelFormatException;

/**
 * The settings of an {@code AutoencoderKL} that the weights cannot tell: group count of the norms, scaling and
 * shift factors. Everything else (channels, blocks, latent channels) is read from the tensor shapes.
 *
 * @param normGroups    {@code norm_num_groups} (32 for Stable Diffusion)
 * @param scalingFactor {@code scaling_factor}: the diffusion model's latents are {@code (z - shift) * scalingFactor}
 * @param shiftFactor   {@code shift_factor} (0 for SD 1.x/2.x)
 * @param latentChannels {@code latent_channels} from the config, or 0 when unknown (then read from the weights)
 */
public record VaeConfig(int normGroups, float scalingFactor, float shiftFactor, int latentChannels) {
    /** Stable Diffusion 1.x / 2.x defaults, used for single-file checkpoints and standalone VAE files without a config. */
    public static final VaeConfig SD = new VaeConfig(32, 0.18215f, 0f, 0);
    /** Stable Diffusion XL's VAE (scaling factor 0.13025), for SDXL single-file checkpoints without a config. */
    public static final VaeConfig SDXL = new VaeConfig(32, 0.13025f, 0f, 0);

    /** Reads a diffusers {@code config.json} ({@code AutoencoderKL}); missing fields take the SD defaults. Null gives {@link #SD}. */
    public static VaeConfig of(JsonNode config, String where) {
        if (config == null || config.isNull() || config.isMissingNode()) return SD;
        if (!config.isObject()) throw new ModelFormatException(where + ": VAE config is not a JSON object");
        String cls = config.path("_class_name").asText("AutoencoderKL");
        if (!cls.equals("AutoencoderKL"))
            throw new ModelFormatException(where + ": VAE config is for " + cls + ", expected AutoencoderKL");
        int groups = intField(config, "norm_num_groups", SD.normGroups, where);
        float sf = floatField(config, "scaling_factor", SD.scalingFactor, where);
        float shift = floatField(config, "shift_factor", 0f, where);
        int lc = intField(config, "latent_channels", 0, where);
        if (groups < 1) throw new ModelFormatException(where + ": norm_num_groups must be >= 1, got " + groups);
        if (!(sf > 0) || !Float.isFinite(sf)) throw new ModelFormatException(where + ": scaling_factor must be a positive number, got " + sf);
        String act = config.path("act_fn").asText("silu");
        if (!act.equals("silu")) throw new ModelFormatException(where + ": act_fn '" + act + "' is not supported (only silu)");
        return new VaeConfig(groups, sf, shift, lc);
    }

    private static int intField(JsonNode c, String f, int def, String where) {
        return dev.jdiffusion.weights.ConfigFields.optionalInt(c, f, def, where);
    }

    private static float floatField(JsonNode c, String f, float def, String where) {
        JsonNode v = c.get(f);
        if (v == null || v.isNull()) return def;
        if (!v.isNumber()) throw new ModelFormatException(where + ": config field " + f + " must be a number, got " + v);
        return (float) v.asDouble();
    }
}

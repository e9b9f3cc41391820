package dev.jdiffusion.sampling;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds schedulers from diffusers scheduler configs and from the CLI's sampler names.
 *
 * <p>Sampler names ({@link #NAMES}): {@code lcm}, {@code ddim}, {@code euler}, {@code euler_a}, {@code dpmpp_2m},
 * {@code dpmpp_2m_karras}. Like diffusers' {@code OtherScheduler.from_config(model_config)}, a named sampler keeps
 * the model's training schedule (betas, prediction type, timestep spacing, steps offset) and changes only the
 * sampling method.
 */
public final class Schedulers {
    private Schedulers() {}

    /** The sampler names {@link #create} understands. */
    public static final List<String> NAMES = List.of("lcm", "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras");
    /** The names A1111 shows for {@link #NAMES}, in the same order. */
    private static final List<String> DISPLAY_NAMES = List.of("LCM", "DDIM", "Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras");

    /**
     * The one naming of samplers for people and other tools: the name A1111 shows and writes in its PNG parameters
     * ("Euler a" for euler_a). The parameters text, the server's sampler list and its replies all use it.
     *
     * @param name a sampler name, any case (one of {@link #NAMES})
     * @return its A1111 name, or {@code name} unchanged when it is not a known sampler
     */
    public static String displayName(String name) {
        int i = name == null ? -1 : NAMES.indexOf(name.toLowerCase(java.util.Locale.ROOT));
        return i < 0 ? name : DISPLAY_NAMES.get(i);
    }


    private static final JsonMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    /**
     * Reads a scheduler_config.json (diffusers writes -Infinity for lambda_min_clipped, which plain JSON rejects).
     *
     * @param file the JSON file
     * @return its tree
     * @throws UncheckedIOException when the file cannot be read or is not JSON, naming it
     */
    public static JsonNode readConfig(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read scheduler config " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The scheduler a diffusers config describes, chosen by its {@code _class_name} (DDIM with eta 0).
     *
     * @param config a diffusers scheduler config
     * @return a new scheduler, timesteps not set yet
     * @throws IllegalArgumentException no {@code _class_name}, or a class the engine does not implement
     */
    public static Scheduler fromConfig(JsonNode config) {
        SchedulerConfig c = SchedulerConfig.parse(config);
        String cls = c.className();
        if (cls == null) throw new IllegalArgumentException("scheduler config has no _class_name");
        return switch (cls) {
            case "DDIMScheduler" -> new DdimScheduler(c, 0.0);
            case "LCMScheduler" -> new LcmScheduler(c);
            case "EulerDiscreteScheduler" -> new EulerScheduler(c);
            case "EulerAncestralDiscreteScheduler" -> new EulerAncestralScheduler(c);
            case "DPMSolverMultistepScheduler" -> new DpmSolverMultistepScheduler(c);
            default -> throw new IllegalArgumentException("scheduler class " + cls + " is not supported; choose a sampler by name ("
                    + String.join(", ", NAMES) + ")");
        };
    }

    /**
     * A sampler by CLI name on top of a model's scheduler config (as diffusers' from_config). {@code baseConfig} may be
     * null: then the Stable Diffusion 1.x training schedule is used ({@link #defaultConfig(boolean)}).
     *
     * @param samplerName one of {@link #NAMES}, lower case
     * @param baseConfig  the model's scheduler config (its training schedule and prediction type), or null
     * @return a new scheduler, timesteps not set yet
     * @throws IllegalArgumentException an unknown sampler name, listing the known ones
     */
    public static Scheduler create(String samplerName, JsonNode baseConfig) {
        JsonNode base = baseConfig != null ? baseConfig : defaultConfig(false);
        ObjectNode c = switch (samplerName) {
            case "lcm" -> SchedulerConfig.with(base, "LCMScheduler");
            case "ddim" -> SchedulerConfig.with(base, "DDIMScheduler");
            case "euler" -> SchedulerConfig.with(base, "EulerDiscreteScheduler");
            case "euler_a" -> SchedulerConfig.with(base, "EulerAncestralDiscreteScheduler");
            case "dpmpp_2m" -> SchedulerConfig.with(base, "DPMSolverMultistepScheduler",
                    "algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", false);
            case "dpmpp_2m_karras" -> SchedulerConfig.with(base, "DPMSolverMultistepScheduler",
                    "algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", true);
            default -> throw new IllegalArgumentException("unknown sampler \"" + samplerName + "\"; choose one of " + String.join(", ", NAMES));
        };
        // fields of the base class that another class would misread are dropped, as from_config ignores them
        if (!samplerName.startsWith("dpmpp")) c.remove(List.of("algorithm_type", "solver_order", "solver_type"));
        return fromConfig(c);
    }

    /**
     * The scheduler config of a Stable Diffusion 1.x / 2.x checkpoint that ships without one (as diffusers'
     * single-file loader writes it): 1000 training steps, scaled_linear betas 0.00085..0.012, "leading" spacing with
     * steps_offset 1, set_alpha_to_one false; epsilon prediction, or v_prediction for SD 2.x 768 models.
     *
     * @param vPrediction true for v_prediction, false for epsilon
     * @return a new config node (the caller may modify it)
     */

    public static ObjectNode defaultConfig(boolean vPrediction) {
        return SchedulerConfig.with(null, "DDIMScheduler",
                "num_train_timesteps", 1000, "beta_start", 0.00085, "beta_end", 0.012, "beta_schedule", "scaled_linear",
                "prediction_type", vPrediction ? "v_prediction" : "epsilon", "timestep_spacing", "leading",
                "steps_offset", 1, "set_alpha_to_one", false, "clip_sample", false);
    }
}

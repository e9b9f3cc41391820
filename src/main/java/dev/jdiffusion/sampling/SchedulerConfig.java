package dev.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The fields of a diffusers {@code scheduler_config.json} that the schedulers read, with diffusers' defaults for
 * fields a file leaves out (per class where diffusers' defaults differ). Options the engine does not implement (thresholding, clip_sample, zero-SNR rescaling,
 * other solver variants) are rejected by the scheduler that would need them, with an error naming the field.
 *
 * @param className             {@code _class_name}, e.g. "DDIMScheduler" (may be null)
 * @param numTrainTimesteps     length of the training noise schedule (1000 for Stable Diffusion)
 * @param betaStart             first beta
 * @param betaEnd               last beta
 * @param betaSchedule          "linear", "scaled_linear" or "squaredcos_cap_v2"
 * @param trainedBetas          explicit betas, or null
 * @param predictionType        "epsilon", "v_prediction" or "sample"
 * @param timestepSpacing       "leading", "trailing" or "linspace"
 * @param stepsOffset           added to "leading" timesteps
 * @param setAlphaToOne         DDIM/LCM: alpha_cumprod of the step after the last is 1 (else alphas_cumprod[0])
 * @param useKarrasSigmas       Euler / DPM-Solver: Karras et al. sigma spacing
 * @param originalInferenceSteps LCM: the distillation schedule's step count
 * @param timestepScaling       LCM: boundary-condition timestep scale
 * @param solverOrder           DPM-Solver order (1 or 2 supported)
 * @param algorithmType         DPM-Solver algorithm (only "dpmsolver++" supported)
 * @param solverType            DPM-Solver second-order formula: "midpoint" or "heun"
 * @param lowerOrderFinal       DPM-Solver: first/lower order on the final steps when fewer than 15 steps
 * @param eulerAtFinal          DPM-Solver: first order on the final step always
 * @param lambdaMinClipped      DPM-Solver: clip of lambda(t) for the timestep range
 * @param sigmaMin              Euler Karras: sigma_min override, or NaN
 * @param sigmaMax              Euler Karras: sigma_max override, or NaN
 * @param raw                   the JSON the config came from (for options checked per scheduler)
 */
public record SchedulerConfig(
        String className, int numTrainTimesteps, double betaStart, double betaEnd, String betaSchedule,
        float[] trainedBetas, String predictionType, String timestepSpacing, int stepsOffset, boolean setAlphaToOne,
        boolean useKarrasSigmas, int originalInferenceSteps, double timestepScaling, int solverOrder,
        String algorithmType, String solverType, boolean lowerOrderFinal, boolean eulerAtFinal,
        double lambdaMinClipped, double sigmaMin, double sigmaMax, JsonNode raw) {

    /**
     * Reads a scheduler config; missing fields take diffusers' defaults.
     *
     * @param json a diffusers scheduler_config.json tree
     * @return the parsed config
     * @throws IllegalArgumentException not an object, or values out of range (e.g. num_train_timesteps below 2)
     */
    public static SchedulerConfig parse(JsonNode json) {
        if (json == null || !json.isObject())
            throw new IllegalArgumentException("scheduler config must be a JSON object, got " + json);
        float[] trained = null;
        JsonNode tb = json.get("trained_betas");
        if (tb != null && !tb.isNull()) {
            if (!tb.isArray()) throw new IllegalArgumentException("scheduler config: trained_betas must be a list");
            trained = new float[tb.size()];
            for (int i = 0; i < trained.length; i++) trained[i] = (float) tb.get(i).asDouble();
        }
        String cls = text(json, "_class_name", null);
        // class defaults where diffusers' schedulers differ: LCM defaults to SD's betas; DDIM and LCM space "leading"
        boolean lcm = "LCMScheduler".equals(cls);
        boolean leadingByDefault = lcm || "DDIMScheduler".equals(cls) || "PNDMScheduler".equals(cls);
        SchedulerConfig c = new SchedulerConfig(
                cls,
                json.path("num_train_timesteps").asInt(1000),
                json.path("beta_start").asDouble(lcm ? 0.00085 : 0.0001),
                json.path("beta_end").asDouble(lcm ? 0.012 : 0.02),
                text(json, "beta_schedule", lcm ? "scaled_linear" : "linear"),
                trained,
                text(json, "prediction_type", "epsilon"),
                text(json, "timestep_spacing", leadingByDefault ? "leading" : "linspace"),
                json.path("steps_offset").asInt(0),
                json.path("set_alpha_to_one").asBoolean(true),
                json.path("use_karras_sigmas").asBoolean(false),
                json.path("original_inference_steps").asInt(50),
                json.path("timestep_scaling").asDouble(10.0),
                json.path("solver_order").asInt(2),
                text(json, "algorithm_type", "dpmsolver++"),
                text(json, "solver_type", "midpoint"),
                json.path("lower_order_final").asBoolean(true),
                json.path("euler_at_final").asBoolean(false),
                number(json, "lambda_min_clipped", Double.NEGATIVE_INFINITY),
                number(json, "sigma_min", Double.NaN),
                number(json, "sigma_max", Double.NaN),
                json);
        if (c.numTrainTimesteps < 2) throw new IllegalArgumentException("scheduler config: num_train_timesteps must be >= 2, got " + c.numTrainTimesteps);
        if (trained != null && trained.length != c.numTrainTimesteps)
            throw new IllegalArgumentException("scheduler config: trained_betas has " + trained.length + " values, num_train_timesteps is " + c.numTrainTimesteps);
        return c;
    }

    /**
     * A copy of a JSON config with some fields replaced (as diffusers' {@code from_config(config, **overrides)}).
     *
     * @param base      the config to copy (not modified), or null for an empty one
     * @param className the {@code _class_name} to set, or null to keep base's
     * @param keyValues field names and values, alternating (strings, numbers, booleans)
     * @return a new config node
     */

    public static ObjectNode with(JsonNode base, String className, Object... keyValues) {
        ObjectNode o = base != null && base.isObject() ? ((ObjectNode) base).deepCopy() : JsonNodeFactory.instance.objectNode();
        if (className != null) o.put("_class_name", className);
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            String k = (String) keyValues[i];
            Object v = keyValues[i + 1];
            if (v instanceof Boolean b) o.put(k, b);
            else if (v instanceof Integer n) o.put(k, n);
            else if (v instanceof Double d) o.put(k, d);
            else if (v == null) o.putNull(k);
            else o.put(k, v.toString());
        }
        return o;
    }

    /** Throws when a boolean option the engine does not implement is switched on. */
    void rejectIfTrue(String field) {
        if (raw.path(field).asBoolean(false))
            throw new IllegalArgumentException(className + ": scheduler option " + field + "=true is not supported");
    }

    /** Throws unless a string option is absent, null or one of the allowed values. */
    void requireOneOf(String field, String... allowed) {
        JsonNode v = raw.get(field);
        if (v == null || v.isNull()) return;
        for (String a : allowed) if (a.equals(v.asText())) return;
        throw new IllegalArgumentException(className + ": scheduler option " + field + "=\"" + v.asText()
                + "\" is not supported (supported: " + String.join(", ", allowed) + ")");
    }

    /** The prediction type, checked against the ones the step formulas implement. */
    String checkedPredictionType() {
        return switch (predictionType) {
            case "epsilon", "v_prediction", "sample" -> predictionType;
            default -> throw new IllegalArgumentException(className + ": prediction_type \"" + predictionType + "\" is not supported");
        };
    }

    private static String text(JsonNode j, String field, String dflt) {
        JsonNode v = j.get(field);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    private static double number(JsonNode j, String field, double dflt) {
        JsonNode v = j.get(field);
        if (v == null || v.isNull()) return dflt;
        if (v.isNumber()) return v.asDouble();
        String s = v.asText();
        return switch (s) {
            case "-Infinity", "-inf" -> Double.NEGATIVE_INFINITY;
            case "Infinity", "inf" -> Double.POSITIVE_INFINITY;
            default -> Double.parseDouble(s);
        };
    }
}

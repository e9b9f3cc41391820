package dev.jdiffusion.pipeline;

import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.util.Locale;
import java.util.Map;

/**
 * What a single-file SD checkpoint without a scheduler config predicts. SD 2.0-v / 2.1 (768 px, v-prediction) and
 * SD 2.0 / 2.1-base (512 px, epsilon) have the same tensors, so, in this order:
 * <ol>
 * <li>a {@code v_pred} tensor in the file: v-prediction;</li>
 * <li>the safetensors {@code __metadata__} entry {@code prediction_type}, {@code modelspec.prediction_type} or
 * {@code parameterization} ("v", "v_prediction", "eps", "epsilon");</li>
 * <li>a heuristic, for SD 2.x files only (OpenCLIP text encoder under {@code cond_stage_model.model.}, 4-channel
 * U-Net): the population standard deviation of the bias of the last up-block attention's first transformer norm1
 * ({@code model.diffusion_model.output_blocks.<last>.1.transformer_blocks.0.norm1.bias}) above {@value #V_SPREAD}
 * means v-prediction; the 768-px v models were trained on, and drifted further from, the epsilon weights, as other
 * engines observe. Any key absent: epsilon.</li>
 * </ol>
 */
public final class PredictionDetector {
    /** The norm1-bias spread above which an SD 2.x file is taken for a v-prediction model. */
    public static final double V_SPREAD = 0.09;
    private static final String UNET = "model.diffusion_model.";

    /**
     * What was chosen, and why.
     *
     * @param predictionType the scheduler's prediction_type: "v_prediction" or "epsilon"
     * @param reason         what decided it, in words: the v_pred key, a metadata entry, the heuristic's measure, or
     *                       "default"
     */
    public record Choice(String predictionType, String reason) {
        /** {@return the short name users type: "v" for v-prediction, else "eps"} */
        public String shortName() { return predictionType.equals("v_prediction") ? "v" : "eps"; }
    }

    private PredictionDetector() {}

    /**
     * The choice for a single file's tensors (epsilon when nothing says otherwise).
     *
     * @param file a single-file checkpoint's tensors and metadata (original LDM key names)
     * @return the choice, never null; reads at most one small bias tensor
     */

    public static Choice detect(TensorSource file) {
        if (file.contains("v_pred")) return new Choice("v_prediction", "v_pred key in the file");
        Map<String, String> md = file.metadata();
        for (String k : new String[]{"prediction_type", "modelspec.prediction_type", "parameterization"}) {
            String v = md.get(k);
            if (v == null) continue;
            String s = v.trim().toLowerCase(Locale.ROOT);
            if (s.equals("v") || s.startsWith("v_") || s.startsWith("v-")) return new Choice("v_prediction", "metadata " + k + "=" + v);
            if (s.startsWith("eps")) return new Choice("epsilon", "metadata " + k + "=" + v);
        }
        boolean openClip = file.names().stream().anyMatch(n -> n.startsWith("cond_stage_model.model."));
        TensorView in = file.find(UNET + "input_blocks.0.0.weight");
        if (!openClip || in == null || in.rank() != 4 || in.dim(1) != 4) return new Choice("epsilon", "default");
        int last = -1;
        for (int i = 0; i < 64; i++) if (file.contains(UNET + "output_blocks." + i + ".1.transformer_blocks.0.norm1.bias")) last = i;
        if (last < 0) return new Choice("epsilon", "default");
        float[] b = file.get(UNET + "output_blocks." + last + ".1.transformer_blocks.0.norm1.bias").toFloatArray();
        if (b.length == 0) return new Choice("epsilon", "default");
        double mean = 0;
        for (float x : b) mean += x;
        mean /= b.length;
        double var = 0;
        for (float x : b) var += (x - mean) * (x - mean);
        double std = Math.sqrt(var / b.length);
        boolean v = std > V_SPREAD;
        return new Choice(v ? "v_prediction" : "epsilon",
                String.format(Locale.ROOT, "heuristic: SD 2.x norm1 bias spread %.4f %s %.2f", std, v ? ">" : "<=", V_SPREAD));
    }
}

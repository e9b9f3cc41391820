package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PredictionDetector: v_pred key, metadata, the SD 2.x norm1-bias heuristic, epsilon when keys are absent. */
class PredictionDetectorTest {
    @TempDir Path dir;

    private PredictionDetector.Choice detect(Map<String, Tensor> t, Map<String, String> md) {
        Path f = dir.resolve("m" + System.nanoTime() + ".safetensors");
        SafetensorsWriter.write(f, t, DType.F32, md);
        try (SafetensorsFile sf = SafetensorsFile.open(f)) {
            return PredictionDetector.detect(sf);
        }
    }

    /** An SD 2.x-looking file: OpenCLIP key, 4-channel conv_in, last up-block norm1 bias of the given spread. */
    private static Map<String, Tensor> sd2(float spread) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("cond_stage_model.model.ln_final.weight", new Tensor(new float[8], 8));
        t.put("model.diffusion_model.input_blocks.0.0.weight", new Tensor(new float[8 * 4 * 9], 8, 4, 3, 3));
        t.put("model.diffusion_model.output_blocks.5.1.transformer_blocks.0.norm1.bias", new Tensor(new float[]{9, 9, 9, 9}, 4));
        float[] b = new float[8];
        for (int i = 0; i < b.length; i++) b[i] = (i % 2 == 0 ? spread : -spread) + 0.3f; // population std = spread
        t.put("model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias", new Tensor(b, 8));
        return t;
    }

    @Test
    void heuristicOnTheLastUpBlockNorm1Bias() {
        PredictionDetector.Choice v = detect(sd2(0.12f), Map.of());
        assertEquals("v_prediction", v.predictionType(), v.reason());
        assertTrue(v.reason().startsWith("heuristic"), v.reason());
        assertEquals("epsilon", detect(sd2(0.05f), Map.of()).predictionType());
    }

    @Test
    void keyAndMetadataComeFirst() {
        Map<String, Tensor> t = sd2(0.05f);
        t.put("v_pred", new Tensor(new float[1], 1));
        assertEquals("v_prediction", detect(t, Map.of()).predictionType());
        assertEquals("v_prediction", detect(sd2(0.05f), Map.of("parameterization", "v")).predictionType());
        PredictionDetector.Choice e = detect(sd2(0.12f), Map.of("modelspec.prediction_type", "epsilon"));
        assertEquals("epsilon", e.predictionType());
        assertTrue(e.reason().startsWith("metadata"), e.reason());
    }

    @Test
    void absentKeysMeanEpsilon() {
        Map<String, Tensor> t = sd2(0.2f);
        t.remove("cond_stage_model.model.ln_final.weight"); // not SD 2.x: no heuristic
        assertEquals("epsilon", detect(t, Map.of()).predictionType());
        Map<String, Tensor> u = sd2(0.2f);
        u.keySet().removeIf(k -> k.contains("norm1"));
        assertEquals("epsilon", detect(u, Map.of()).predictionType());
        try (SafetensorsFile sf = SafetensorsFile.open(TinyModels.sd1SingleFile())) {
            assertEquals("epsilon", PredictionDetector.detect(sf).predictionType(), "the tiny SD1 file stays epsilon");
        }
    }
}

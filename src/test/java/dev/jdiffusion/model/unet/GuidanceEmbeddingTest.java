package dev.jdiffusion.model.unet;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LCM's guidance embedding against the golden timestep_cond (diffusers in float32) and timestep_cond_exact (float64).
 * The float32 formula multiplies frequencies by 1000 w, so one rounding of the sine's argument moves the result by up
 * to ulp(1000 w): the reference itself is that far from the exact values (1.6e-4 at w = 7). The bound is twice that.
 */
class GuidanceEmbeddingTest {

    @Test
    void matchesDiffusers() {
        int checked = 0;
        for (Path dir : Golden.caseDirs()) {
            if (!Files.isRegularFile(dir.resolve("inputs.safetensors")) || !Files.isRegularFile(dir.resolve("expected_f64.safetensors"))) continue;
            try (SafetensorsFile in = Golden.open(dir.resolve("inputs.safetensors"));
                 SafetensorsFile exact = Golden.open(dir.resolve("expected_f64.safetensors"))) {
                for (String k : in.names()) {
                    if (!k.endsWith(".timestep_cond")) continue;
                    String sub = k.substring(0, k.length() - ".timestep_cond".length());
                    float[] w = in.get(sub + ".guidance_scale_w").toFloatArray();
                    float[] ref = in.get(k).toFloatArray();
                    int dim = (int) in.get(k).dim(1);
                    Tensor mine = UNet2DConditionModel.guidanceEmbedding(w, dim);
                    assertArrayEquals(new int[]{w.length, dim}, mine.shape());
                    float maxW = 0;
                    for (float v : w) maxW = Math.max(maxW, Math.abs(v));
                    double tol = 2 * Math.ulp(1000f * Math.max(maxW, 1e-3f)) + 1e-6;
                    Golden.compare(dir.getFileName() + "/" + k, ref, mine.data(), tol);
                    if (exact.contains(sub + ".timestep_cond_exact"))
                        Golden.compare(dir.getFileName() + "/" + sub + ".timestep_cond_exact", exact.get(sub + ".timestep_cond_exact").toFloatArray(), mine.data(), tol);
                    checked++;
                }
            }
        }
        assertTrue(checked > 0, "no golden timestep_cond found");
    }

    @Test
    void zeroGuidanceIsSinZeroCosOne() {
        Tensor t = UNet2DConditionModel.guidanceEmbedding(new float[]{0f}, 8);
        assertArrayEquals(new float[]{0, 0, 0, 0, 1, 1, 1, 1}, t.data());
        // odd width: zero column appended
        assertArrayEquals(new float[]{0, 0, 0, 0, 1, 1, 1, 1, 0}, UNet2DConditionModel.guidanceEmbedding(new float[]{0f}, 9).data());
    }
}

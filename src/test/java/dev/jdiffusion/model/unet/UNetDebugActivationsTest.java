package dev.jdiffusion.model.unet;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compares the U-Net's intermediate outputs (time_proj, conv_in, every down/up block, mid_block, conv_norm_out) with
 * the golden debug_activations of each unet case's first sub-case; prints the max error per module to locate a bug.
 */
class UNetDebugActivationsTest {

    @Test
    void intermediatesMatchDiffusers() {
        int checked = 0;
        for (Path dir : Golden.caseDirs()) {
            var info = Golden.json(dir.resolve("info.json"));
            if (!info.path("kind").asText().equals("unet") || !Files.isRegularFile(dir.resolve("debug_activations.safetensors"))) continue;
            Path model = Golden.resolve(info.get("model").asText());
            try (TensorSource w = Checkpoint.openWeights(model);
                 SafetensorsFile in = Golden.open(dir.resolve("inputs.safetensors"));
                 SafetensorsFile dbg = Golden.open(dir.resolve("debug_activations.safetensors"))) {
                UNet2DConditionModel unet = UNet2DConditionModel.load(w, Golden.json(model.resolve("config.json")));
                String sub = dbg.names().iterator().next();
                sub = sub.substring(0, sub.indexOf('.'));
                Map<String, Tensor> got = new LinkedHashMap<>();
                Tensor cond = in.contains(sub + ".timestep_cond") ? Tensor.of(in.get(sub + ".timestep_cond")) : null;
                unet.forward(Tensor.of(in.get(sub + ".sample")), in.get(sub + ".timestep").toFloatArray(),
                        Tensor.of(in.get(sub + ".encoder_hidden_states")), cond, dev.jdiffusion.golden.UnetGolden.added(in, sub),
                        (k, v) -> got.put(k, v), null);
                for (var e : got.entrySet()) {
                    String key = sub + "." + e.getKey();
                    if (!dbg.contains(key)) continue;
                    // Intermediates carry no tolerance of their own; the output's (README) flags a real divergence.
                    Golden.compare(dir.getFileName() + " " + key, dbg.get(key).toFloatArray(), e.getValue().data(),
                            dev.jdiffusion.golden.GoldenTolerances.of(dir.getFileName().toString(), "noise_pred"));
                    checked++;
                }
            }
        }
        assertTrue(checked > 0, "no unet debug activations found");
    }
}

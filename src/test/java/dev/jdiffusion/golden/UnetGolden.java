package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;

import java.nio.file.Path;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind "unet": for every sub-case (inputs keys {@code <sub>.sample}) run the U-Net named by info.json's "model"
 * and compare noise_pred on every element (5e-5). LCM sub-cases feed the given timestep_cond, SDXL sub-cases their
 * text_embeds and time_ids.
 */
public final class UnetGolden implements GoldenKind {

    @Override
    public void run(Path caseDir, JsonNode info) {
        Path modelDir = Golden.resolve(info.get("model").asText());
        try (TensorSource weights = Checkpoint.openWeights(modelDir);
             SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"))) {
            UNet2DConditionModel unet = UNet2DConditionModel.load(weights, Golden.json(modelDir.resolve("config.json")));
            check(caseDir.getFileName().toString(), caseDir.getFileName().toString(), unet, in, exp);
        }
    }

    /**
     * Runs every sub-case through unet and compares noise_pred on every element with the case's tolerance (label
     * names the run in the printed line); returns the outputs by sub-case.
     */
    static java.util.Map<String, float[]> check(String label, String caseName, UNet2DConditionModel unet, SafetensorsFile in, SafetensorsFile exp) {
        if (subcases(in).isEmpty()) fail(caseName + ": inputs.safetensors has no sub-case (no <sub>.sample key): nothing compared");
        java.util.Map<String, float[]> outs = new java.util.TreeMap<>();
        for (String sub : subcases(in)) {
            Tensor sample = Tensor.of(in.get(sub + ".sample"));
            float[] t = in.get(sub + ".timestep").toFloatArray();
            Tensor ehs = Tensor.of(in.get(sub + ".encoder_hidden_states"));
            Tensor cond = null;
            // The reference's own guidance embedding is the input (GuidanceEmbeddingTest checks ours against it).
            if (in.contains(sub + ".timestep_cond")) cond = Tensor.of(in.get(sub + ".timestep_cond"));
            Tensor out = unet.forward(sample, t, ehs, cond, added(in, sub), null, null);
            Golden.compare(label + "/" + sub + ".noise_pred", exp.get(sub + ".noise_pred").toFloatArray(), out.data(),
                    GoldenTolerances.of(caseName, "noise_pred"));
            outs.put(sub, out.data());
        }
        return outs;
    }

    /** SDXL sub-cases' added_cond_kwargs ({@code <sub>.text_embeds}, {@code <sub>.time_ids}), or null when absent. */
    public static UNet2DConditionModel.AddedConditioning added(TensorSource in, String sub) {
        if (!in.contains(sub + ".text_embeds")) return null;
        return new UNet2DConditionModel.AddedConditioning(Tensor.of(in.get(sub + ".text_embeds")), Tensor.of(in.get(sub + ".time_ids")));
    }

    static TreeSet<String> subcases(TensorSource in) {
        TreeSet<String> subs = new TreeSet<>();
        for (String k : in.names()) if (k.endsWith(".sample")) subs.add(k.substring(0, k.length() - ".sample".length()));
        return subs;
    }
}

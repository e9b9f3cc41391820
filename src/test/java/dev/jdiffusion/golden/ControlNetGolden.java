package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.unet.ControlNetModel;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.model.unet.UNetResiduals;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden kind "controlnet": per sub-case, the ControlNet named by info.json's "model" gives every down residual and
 * the mid residual (already scaled); the U-Net named by "unet" with them gives noise_pred, and without them
 * noise_pred_no_control. The first sub-case's debug activations are compared too (they locate a mismatch).
 */
final class ControlNetGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) {
        String name = caseDir.getFileName().toString();
        Path cnDir = Golden.resolve(info.get("model").asText()), unetDir = Golden.resolve(info.get("unet").asText());
        double tolRes = GoldenTolerances.of(name, "residuals"), tolPred = GoldenTolerances.of(name, "noise_pred");
        try (TensorSource cw = Checkpoint.openWeights(cnDir); TensorSource uw = Checkpoint.openWeights(unetDir);
             SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"))) {
            ControlNetModel cn = ControlNetModel.load(cw, Golden.json(cnDir.resolve("config.json")));
            UNet2DConditionModel unet = UNet2DConditionModel.load(uw, Golden.json(unetDir.resolve("config.json")));
            int n = info.path("num_down_block_res_samples").asInt();
            assertEquals(n, cn.numDownResiduals(), name + ": number of down residuals");
            TreeSet<String> subs = UnetGolden.subcases(in);
            assertTrue(!subs.isEmpty(), name + ": no sub-cases");
            for (String sub : subs) {
                Map<String, Tensor> probed = new HashMap<>();
                UNetResiduals res = residuals(cn, in, sub, (k, v) -> probed.put(k, new Tensor(v.data().clone(), v.shape())));
                for (int i = 0; i < n; i++)
                    Golden.compare(name + "/" + sub + ".down_block_res_samples." + i,
                            exp.get(sub + ".down_block_res_samples." + i).toFloatArray(), res.down().get(i).data(), tolRes);
                Golden.compare(name + "/" + sub + ".mid_block_res_sample", exp.get(sub + ".mid_block_res_sample").toFloatArray(), res.mid().data(), tolRes);
                Tensor sample = Tensor.of(in.get(sub + ".sample")), ehs = Tensor.of(in.get(sub + ".encoder_hidden_states"));
                float[] t = in.get(sub + ".timestep").toFloatArray();
                Tensor with = unet.forward(sample, t, ehs, null, null, null, res);
                Golden.compare(name + "/" + sub + ".noise_pred", exp.get(sub + ".noise_pred").toFloatArray(), with.data(), tolPred);
                Tensor without = unet.forward(sample, t, ehs, null);
                Golden.compare(name + "/" + sub + ".noise_pred_no_control", exp.get(sub + ".noise_pred_no_control").toFloatArray(), without.data(), tolPred);
                checkDebug(caseDir, name, sub, probed, tolRes);
            }
        }
    }

    /** The ControlNet's residuals for a sub-case's inputs. */
    static UNetResiduals residuals(ControlNetModel cn, SafetensorsFile in, String sub, java.util.function.BiConsumer<String, Tensor> probe) {
        Tensor emb = cn.embedCondition(Tensor.of(in.get(sub + ".controlnet_cond")));
        float scale = in.get(sub + ".conditioning_scale").toFloatArray()[0];
        return cn.forward(Tensor.of(in.get(sub + ".sample")), in.get(sub + ".timestep").toFloatArray(),
                Tensor.of(in.get(sub + ".encoder_hidden_states")), emb, scale, probe);
    }

    private static void checkDebug(Path caseDir, String name, String sub, Map<String, Tensor> probed, double tol) {
        Path f = caseDir.resolve("debug_activations.safetensors");
        if (!Files.isRegularFile(f)) return;
        try (SafetensorsFile dbg = Golden.open(f)) {
            String prefix = sub + ".controlnet.";
            for (String k : new TreeSet<>(dbg.names())) {
                if (!k.startsWith(prefix)) continue;
                String module = k.substring(prefix.length());
                Tensor mine = probed.get(module);
                assertTrue(mine != null, name + ": no activation probed for " + module);
                Golden.compare(name + "/" + k + " (debug)", dbg.get(k).toFloatArray(), mine.data(), tol);
            }
        }
    }
}

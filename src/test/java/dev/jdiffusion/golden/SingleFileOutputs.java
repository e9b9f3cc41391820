package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The single_file kind's last check: every golden case whose model is the file's source folder (or a part of it) is
 * run again with the weights taken from the single file (the folder still gives configs, tokenizers and scheduler).
 * Each output is compared with the case's expected values under the case's own tolerance (the max error is printed
 * as for the case itself) and must equal the folder's output bit for bit, as the README says of single files.
 */
final class SingleFileOutputs {
    private SingleFileOutputs() {}

    /** Runs the cases of {@code folder} from {@code file}; returns how many were run. */
    static int run(String name, Path file, Path folder, JsonNode singleInfo) throws Exception {
        int n = 0;
        String from = " from " + file.getFileName();
        try (Checkpoint ck = Checkpoint.open(file)) {
            for (Path c : Golden.caseDirs()) {
                JsonNode info = Golden.json(c.resolve("info.json"));
                String kind = info.path("kind").asText(), cn = c.getFileName().toString();
                Path model = info.hasNonNull("model") ? Golden.resolve(info.get("model").asText()) : null;
                switch (kind) {
                    case "unet" -> {
                        if (!folder.resolve(Checkpoint.UNET).equals(model)) continue;
                        try (SafetensorsFile in = Golden.open(c.resolve("inputs.safetensors"));
                             SafetensorsFile exp = Golden.open(c.resolve("expected.safetensors"));
                             TensorSource fw = Checkpoint.openWeights(model)) {
                            JsonNode cfg = Golden.json(model.resolve("config.json"));
                            Map<String, float[]> mine = UnetGolden.check(cn + from, cn, UNet2DConditionModel.load(ck.tensors(Checkpoint.UNET), cfg), in, exp);
                            Map<String, float[]> theirs = UnetGolden.check(cn, cn, UNet2DConditionModel.load(fw, cfg), in, exp);
                            identical(cn, theirs, mine);
                        }
                    }
                    case "text_encoder" -> {
                        if (!folder.resolve(Checkpoint.TEXT_ENCODER).equals(model)) continue;
                        identical(cn, TextEncoderGolden.check(c, info, null, cn),
                                TextEncoderGolden.check(c, info, ck.tensors(Checkpoint.TEXT_ENCODER), cn + from));
                    }
                    case "text_encoder_pair" -> {
                        if (!folder.equals(model)) continue;
                        Map<String, Tensor> theirs = TextEncoderPairGolden.check(c, info, null, cn);
                        Map<String, Tensor> mine = TextEncoderPairGolden.check(c, info,
                                new TensorSource[]{ck.tensors(Checkpoint.TEXT_ENCODER), ck.tensors(Checkpoint.TEXT_ENCODER_2)}, cn + from);
                        assertEquals(theirs.keySet(), mine.keySet(), cn + ": outputs");
                        for (String k : theirs.keySet()) assertArrayEquals(theirs.get(k).data(), mine.get(k).data(), cn + " " + k + from + " vs the folder's");
                    }
                    case "pipeline" -> {
                        if (!"sdxl".equals(info.path("family").asText()) || !folder.equals(SdxlPipelineGolden.weightsFolder(info))) continue;
                        List<float[]> theirs = SdxlPipelineGolden.check(c, info, null), mine = SdxlPipelineGolden.check(c, info, file);
                        assertEquals(theirs.size(), mine.size());
                        for (int i = 0; i < theirs.size(); i++) assertArrayEquals(theirs.get(i), mine.get(i), cn + " image " + i + from + " vs the folder's");
                    }
                    default -> { continue; }
                }
                System.out.printf("golden %-48s identical to the folder's%n", cn + from);
                n++;
            }
        }
        if (singleInfo.has("expected_outputs")) System.out.printf("golden %-48s README: %s%n", name, singleInfo.get("expected_outputs").asText());
        return n;
    }

    private static void identical(String cn, Map<String, float[]> theirs, Map<String, float[]> mine) {
        assertEquals(theirs.keySet(), mine.keySet(), cn + ": outputs");
        for (String k : theirs.keySet()) assertArrayEquals(theirs.get(k), mine.get(k), cn + " " + k + " from the single file vs the folder's");
    }
}

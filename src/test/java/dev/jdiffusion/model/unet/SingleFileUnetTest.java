package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A single-file checkpoint's unet (original key layout) gives bit-identical noise_pred to the diffusers folder it was
 * made from, on the inputs of the unet golden case that uses that folder; its inferred config has the same structure.
 */
class SingleFileUnetTest {

    @Test
    void singleFileMatchesFolderBitForBit() {
        int checked = 0;
        for (Path dir : Golden.caseDirs()) {
            JsonNode info = Golden.json(dir.resolve("info.json"));
            if (!info.path("kind").asText().equals("single_file")) continue;
            Path file = Golden.resolve(info.get("file").asText());
            Path folder = Golden.resolve(info.get("made_from").asText());
            Path inputs = findUnetInputs(folder);
            if (inputs == null) continue;
            try (Checkpoint single = Checkpoint.open(file); Checkpoint diff = Checkpoint.open(folder);
                 SafetensorsFile in = Golden.open(inputs)) {
                JsonNode cfg = diff.config(Checkpoint.UNET);
                UNet2DConditionModel a = UNet2DConditionModel.load(diff.tensors(Checkpoint.UNET), cfg);
                UNet2DConditionModel b = UNet2DConditionModel.load(single.tensors(Checkpoint.UNET), cfg);

                UNetConfig inferred = UNetConfig.infer(single.tensors(Checkpoint.UNET));
                UNetConfig c = a.config();
                assertArrayEquals(c.blockOutChannels(), inferred.blockOutChannels());
                assertEquals(c.downBlockTypes(), inferred.downBlockTypes());
                assertEquals(c.upBlockTypes(), inferred.upBlockTypes());
                assertArrayEquals(c.layersPerBlock(), inferred.layersPerBlock());
                assertArrayEquals(c.transformerLayers(), inferred.transformerLayers());
                assertEquals(c.crossAttentionDim(), inferred.crossAttentionDim());
                assertEquals(c.useLinearProjection(), inferred.useLinearProjection());
                assertEquals(c.timeCondProjDim(), inferred.timeCondProjDim());
                assertEquals(c.inChannels(), inferred.inChannels());
                assertEquals(c.outChannels(), inferred.outChannels());
                // A model loaded with the inferred config must at least validate (head count / groups are SD defaults).
                UNet2DConditionModel.load(single.tensors(Checkpoint.UNET), (JsonNode) null);

                TreeSet<String> subs = new TreeSet<>();
                for (String k : in.names()) if (k.endsWith(".sample")) subs.add(k.substring(0, k.length() - 7));
                for (String s : subs) {
                    Tensor x = Tensor.of(in.get(s + ".sample"));
                    float[] t = in.get(s + ".timestep").toFloatArray();
                    Tensor e = Tensor.of(in.get(s + ".encoder_hidden_states"));
                    var added = dev.jdiffusion.golden.UnetGolden.added(in, s); // SDXL's text_embeds and time_ids, else null
                    float[] ya = a.forward(x, t, e, null, added, null, null).data();
                    float[] yb = b.forward(x, t, e, null, added, null, null).data();
                    assertArrayEquals(ya, yb, dir.getFileName() + "/" + s + ": single file differs from folder");
                    checked++;
                }
            }
        }
        assertTrue(checked > 0, "no single-file case with matching unet inputs");
    }

    /** The inputs of a unet golden case whose model is the given folder's unet (and needs no timestep_cond). */
    static Path findUnetInputs(Path folder) {
        for (Path d : Golden.caseDirs()) {
            JsonNode info = Golden.json(d.resolve("info.json"));
            if (!info.path("kind").asText().equals("unet")) continue;
            if (Golden.resolve(info.get("model").asText()).equals(folder.resolve("unet")) && Files.isRegularFile(d.resolve("inputs.safetensors")))
                return d.resolve("inputs.safetensors");
        }
        return null;
    }
}

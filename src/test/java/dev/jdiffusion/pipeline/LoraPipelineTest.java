package dev.jdiffusion.pipeline;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LoRAs through the public API: per request, fixed at load, switched without reloading, same bits for any thread count. */
class LoraPipelineTest {
    static final Path MODEL = Golden.resolve("models/tiny-sd1");
    static final Path LOCON = Golden.resolve("models/loras/locon.safetensors"), KOHYA = Golden.resolve("models/loras/kohya_diffusers.safetensors");

    static GenerationRequest.Builder req() {
        return GenerationRequest.builder("a cabin in the snow").steps(2).size(32, 32).seed(7).sampler("ddim");
    }

    static float[] image(StableDiffusion sd, GenerationRequest r) { return sd.generate(r).images().get(0).data(); }

    @Test void switchingLorasBetweenRequestsMatchesModelsLoadedWithThem() {
        float[] base, stacked, again;
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(MODEL))) {
            var unet = sd.components().unet();
            base = image(sd, req().build());
            stacked = image(sd, req().lora(KOHYA, 0.7f).lora(LOCON, -0.4f).build());
            again = image(sd, req().build());
            assertSame(unet, sd.components().unet(), "the model was not rebuilt");
        }
        assertArrayEquals(base, again, "clearing the LoRAs restores the base model exactly");
        assertFalse(Arrays.equals(base, stacked));
        try (StableDiffusion fixed = StableDiffusion.load(ModelOptions.of(MODEL).withLora(KOHYA, 0.7f).withLora(LOCON, -0.4f).withThreads(1))) {
            assertArrayEquals(stacked, image(fixed, req().build()), "fixed at load, one thread: the same bits");
        }
    }

    @Test void aLoraThatDoesNotFitIsOneErrorNamingTheKeyAndChangesNothing(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.safetensors");
        // an SDXL-shaped key: a second text encoder this model does not have
        SafetensorsWriter.write(bad, Map.of(
                "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", new Tensor(new float[4 * 32], 4, 32),
                "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", new Tensor(new float[37 * 4], 37, 4)), DType.F32, Map.of());
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(MODEL))) {
            float[] base = image(sd, req().build());
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> sd.generate(req().lora(LOCON, 1f).lora(bad, 1f).build()));
            assertTrue(e.getMessage().contains("lora_te2_text_model_encoder_layers_0_mlp_fc1") && e.getMessage().contains("second text encoder"), e.getMessage());
            assertArrayEquals(base, image(sd, req().build()), "nothing applied half-way");
        }
    }
}

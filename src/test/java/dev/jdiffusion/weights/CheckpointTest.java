package dev.jdiffusion.weights;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir Path dir;

    @Test void diffusersFolder() {
        Path p = Golden.dir().resolve("models/tiny-sd1");
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(Checkpoint.Layout.DIFFUSERS, c.layout());
            for (String comp : new String[]{Checkpoint.UNET, Checkpoint.VAE, Checkpoint.TEXT_ENCODER, Checkpoint.TOKENIZER, Checkpoint.SCHEDULER})
                assertTrue(c.has(comp), comp);
            assertNotNull(c.config(Checkpoint.UNET).get("cross_attention_dim"));
            assertNotNull(c.config(Checkpoint.SCHEDULER).get("num_train_timesteps"));
            TensorSource unet = c.tensors(Checkpoint.UNET);
            assertTrue(unet.contains("conv_in.weight"));
            assertEquals(4, unet.get("conv_in.weight").rank());
        }
    }

    @Test void partialFolderReportsMissingComponents() {
        Path p = Golden.dir().resolve("models/tiny-lcm");
        try (Checkpoint c = Checkpoint.open(p)) {
            assertTrue(c.has(Checkpoint.UNET));
            assertFalse(c.has(Checkpoint.VAE));
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> c.tensors(Checkpoint.VAE));
            assertTrue(e.getMessage().contains("vae"), e.getMessage());
        }
    }

    @Test void singleFile() {
        Path p = Golden.dir().resolve("models/tiny-sd1.safetensors");
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(Checkpoint.Layout.SINGLE_FILE, c.layout());
            assertTrue(c.has(Checkpoint.UNET));
            assertTrue(c.has(Checkpoint.VAE));
            assertTrue(c.has(Checkpoint.TEXT_ENCODER));
            assertFalse(c.has(Checkpoint.TOKENIZER));
            assertNull(c.config(Checkpoint.UNET));
        }
    }

    @Test void picklesAreRefused() throws IOException {
        for (String n : new String[]{"model.ckpt", "model.bin", "model.pt", "model.pth"}) {
            Path p = Files.write(dir.resolve(n), new byte[]{(byte) 0x80, 2, '}', 'q', 0, 0, 0, 0, 0});
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> Checkpoint.open(p));
            assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("pickle"), e.getMessage());
        }
        // A pickle or PyTorch zip under a .safetensors name is recognised by its first bytes.
        Path zip = Files.write(dir.resolve("sneaky.safetensors"), new byte[]{'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0});
        assertTrue(assertThrows(ModelFormatException.class, () -> Checkpoint.open(zip)).getMessage().contains("pickle"));
        Path pk = Files.write(dir.resolve("p.safetensors"), new byte[]{(byte) 0x80, 4, (byte) 0x95, 1, 2, 3, 4, 5, 6, 7});
        assertTrue(assertThrows(ModelFormatException.class, () -> Checkpoint.open(pk)).getMessage().contains("pickle"));
    }

    @Test void pickleOnlyComponentFolder() throws IOException {
        Path m = dir.resolve("m");
        Files.createDirectories(m.resolve("unet"));
        Files.writeString(m.resolve("model_index.json"), "{}");
        Files.write(m.resolve("unet/diffusion_pytorch_model.bin"), new byte[]{(byte) 0x80, 2});
        try (Checkpoint c = Checkpoint.open(m)) {
            assertFalse(c.has(Checkpoint.UNET));
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> c.tensors(Checkpoint.UNET));
            assertTrue(e.getMessage().contains("never loaded"), e.getMessage());
        }
    }

    @Test void notAModelFolder() {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
        assertThrows(ModelFormatException.class, () -> Checkpoint.open(dir.resolve("nothing-here")));
    }

    private static void weights(Path f, float v) {
        SafetensorsWriter.write(f, Map.of("w", new Tensor(new float[]{v}, 1)), DType.F32, Map.of());
    }

    @Test void fp16VariantSelection() throws IOException {
        Path unet = dir.resolve("m/unet");
        Files.createDirectories(unet);
        weights(unet.resolve("diffusion_pytorch_model.fp16.safetensors"), 16);
        try (TensorSource s = Checkpoint.openWeights(unet)) {
            assertEquals(16f, s.get("w").getFloat(0), "only the fp16 variant: it is used");
        }
        weights(unet.resolve("diffusion_pytorch_model.safetensors"), 32);
        try (TensorSource s = Checkpoint.openWeights(unet)) {
            assertEquals(32f, s.get("w").getFloat(0), "both: the full-precision file wins, as in diffusers without a variant");
        }
        Path te = dir.resolve("m/text_encoder");
        Files.createDirectories(te);
        weights(te.resolve("model.fp16.safetensors"), 7);
        try (TensorSource s = Checkpoint.openWeights(te)) {
            assertEquals(7f, s.get("w").getFloat(0));
        }
    }

    @Test void shardedFp16VariantAsDiffusersNamesIt() throws IOException {
        Path unet = dir.resolve("m/unet");
        Files.createDirectories(unet);
        weights(unet.resolve("diffusion_pytorch_model.fp16-00001-of-00002.safetensors"), 1);
        SafetensorsWriter.write(unet.resolve("diffusion_pytorch_model.fp16-00002-of-00002.safetensors"),
                Map.of("b", new Tensor(new float[]{2}, 1)), DType.F16, Map.of());
        Files.writeString(unet.resolve("diffusion_pytorch_model.safetensors.index.fp16.json"),
                "{\"weight_map\":{\"w\":\"diffusion_pytorch_model.fp16-00001-of-00002.safetensors\",\"b\":\"diffusion_pytorch_model.fp16-00002-of-00002.safetensors\"}}");
        try (TensorSource s = Checkpoint.openWeights(unet)) {
            assertEquals(2f, s.get("b").getFloat(0));
            assertEquals(1f, s.get("w").getFloat(0));
        }
    }
}

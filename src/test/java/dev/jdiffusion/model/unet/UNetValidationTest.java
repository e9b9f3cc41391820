package dev.jdiffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad weights, configs and inputs fail before any compute with messages that name what is wrong. */
class UNetValidationTest {

    static Path sd1Unet() { return Golden.resolve("models/tiny-sd1/unet"); }

    static JsonNode config() { return Golden.json(sd1Unet().resolve("config.json")); }

    @Test
    void missingAndUnexpectedTensorsAreListed() {
        try (TensorSource w = Checkpoint.openWeights(sd1Unet())) {
            TensorSource renamed = w.mapped("renamed", n -> n.equals("mid_block.resnets.1.conv2.weight") ? "mid_block.resnets.1.conv9.weight"
                    : n.equals("conv_out.bias") ? null : n, t -> t);
            var e = assertThrows(ModelFormatException.class, () -> UNet2DConditionModel.load(renamed, config()));
            String msg = e.getMessage();
            assertTrue(msg.contains("missing (2)") && msg.contains("mid_block.resnets.1.conv2.weight") && msg.contains("conv_out.bias"), msg);
            assertTrue(msg.contains("unexpected (1)") && msg.contains("mid_block.resnets.1.conv9.weight"), msg);
        }
    }

    @Test
    void shapesDisagreeingWithTheConfig() {
        try (TensorSource w = Checkpoint.openWeights(sd1Unet())) {
            ObjectNode c = (ObjectNode) config().deepCopy();
            c.put("cross_attention_dim", 48);
            var e = assertThrows(ModelFormatException.class, () -> UNet2DConditionModel.load(w, c));
            assertTrue(e.getMessage().contains("wrong shape") && e.getMessage().contains("attn2.to_k.weight"), e.getMessage());
        }
    }

    @Test
    void unsupportedConfigsAreRejected() {
        for (String[] kv : new String[][]{{"resnet_time_scale_shift", "\"scale_shift\""}, {"class_embed_type", "\"timestep\""},
                {"addition_embed_type", "\"text_time\""}, {"only_cross_attention", "true"}, {"num_attention_heads", "8"},
                {"mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\""}, {"down_block_types", "[\"SimpleCrossAttnDownBlock2D\",\"DownBlock2D\",\"DownBlock2D\",\"DownBlock2D\"]"},
                {"block_out_channels", "[32, 64]"}}) {
            ObjectNode c = (ObjectNode) config().deepCopy();
            c.set(kv[0], Golden.JSON.valueToTree(parse(kv[1])));
            var e = assertThrows(ModelFormatException.class, () -> UNetConfig.fromJson(c), kv[0]);
            assertTrue(e.getMessage().startsWith("unet config:"), e.getMessage());
        }
    }

    private static Object parse(String json) {
        try {
            return Golden.JSON.readValue(json, Object.class);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void badInputsAreRejected() {
        try (TensorSource w = Checkpoint.openWeights(sd1Unet())) {
            UNet2DConditionModel m = UNet2DConditionModel.load(w, config());
            UNetConfig c = m.config();
            Tensor x = Tensor.zeros(2, c.inChannels(), 5, 7);
            Tensor e = Tensor.zeros(2, 3, c.crossAttentionDim());
            float[] t = {1, 2};
            assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(2, c.inChannels() + 1, 5, 7), t, e, null));
            assertThrows(IllegalArgumentException.class, () -> m.forward(x, new float[]{1, 2, 3}, e, null));
            assertThrows(IllegalArgumentException.class, () -> m.forward(x, t, Tensor.zeros(1, 3, c.crossAttentionDim()), null));
            assertThrows(IllegalArgumentException.class, () -> m.forward(x, t, Tensor.zeros(2, 3, c.crossAttentionDim() + 1), null));
            assertThrows(IllegalArgumentException.class, () -> m.forward(x, t, e, Tensor.zeros(2, 4)));
            // odd sizes, a 1x1 latent and a broadcast timestep run
            assertEquals(java.util.List.of(2, c.outChannels(), 5, 7), java.util.Arrays.stream(m.forward(x, t, e, null).shape()).boxed().toList());
            Tensor one = m.forward(Tensor.zeros(1, c.inChannels(), 1, 1), new float[]{3}, Tensor.zeros(1, 1, c.crossAttentionDim()), null);
            assertEquals(c.outChannels(), one.dim(1));
        }
    }

    @Test
    void batchEntriesAreIndependent() {
        try (TensorSource w = Checkpoint.openWeights(sd1Unet())) {
            UNet2DConditionModel m = UNet2DConditionModel.load(w, config());
            UNetConfig c = m.config();
            java.util.Random r = new java.util.Random(1);
            int h = 6, wd = 9, l = 5;
            Tensor x = Tensor.zeros(3, c.inChannels(), h, wd), e = Tensor.zeros(3, l, c.crossAttentionDim());
            for (int i = 0; i < x.numel(); i++) x.data()[i] = (float) r.nextGaussian();
            for (int i = 0; i < e.numel(); i++) e.data()[i] = (float) r.nextGaussian();
            float[] t = {10, 500, 999};
            Tensor all = m.forward(x, t, e, null);
            int per = c.inChannels() * h * wd, perE = l * c.crossAttentionDim(), perO = c.outChannels() * h * wd;
            for (int b = 0; b < 3; b++) {
                Tensor xb = new Tensor(java.util.Arrays.copyOfRange(x.data(), b * per, (b + 1) * per), 1, c.inChannels(), h, wd);
                Tensor eb = new Tensor(java.util.Arrays.copyOfRange(e.data(), b * perE, (b + 1) * perE), 1, l, c.crossAttentionDim());
                float[] yb = m.forward(xb, new float[]{t[b]}, eb, null).data();
                // the images of a batch are independent: bit for bit what each gives alone
                org.junit.jupiter.api.Assertions.assertArrayEquals(java.util.Arrays.copyOfRange(all.data(), b * perO, (b + 1) * perO), yb, "batch entry " + b);
            }
        }
    }
}

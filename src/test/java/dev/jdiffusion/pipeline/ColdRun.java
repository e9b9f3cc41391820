package dev.jdiffusion.pipeline;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.sampling.TorchGenerator;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.TensorSource;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * The work of {@link ColdStartTest}, run in a fresh JVM: after {@code args[0]} warm-up rounds, one round of a
 * text-to-image generation on the tiny SD 1.x model decoded by the wide VAE (every 3x3 conv of its upper levels
 * takes the Winograd path) and one forward pass of the wide U-Net (Winograd at its first level, attention, GEMMs);
 * prints one line per output, {@code name sha256-of-the-float-bits}.
 */
public final class ColdRun {
    private ColdRun() {}

    public static void main(String[] args) throws Exception {
        int warmups = Integer.parseInt(args[0]);
        ModelOptions o = ModelOptions.of(TinyModels.sd1()).withVae(Golden.resolve("models/tiny-vae-wide"));
        try (StableDiffusion sd = StableDiffusion.load(o);
             TensorSource unetWeights = Checkpoint.openWeights(Golden.resolve("models/tiny-unet-wide"))) {
            UNet2DConditionModel unet = UNet2DConditionModel.load(unetWeights,
                    Checkpoint.readJson(Golden.resolve("models/tiny-unet-wide/config.json")));
            List<String> lines = null;
            for (int i = 0; i <= warmups; i++) lines = round(sd, unet);
            lines.forEach(System.out::println);
        }
    }

    private static List<String> round(StableDiffusion sd, UNet2DConditionModel unet) throws Exception {
        GenerationRequest req = GenerationRequest.builder("a cabin in the snow, warm light").size(64, 64).steps(3).seed(11).build();
        Tensor image = sd.generate(req).images().get(0);
        int ch = unet.config().inChannels(), side = 2 * unet.config().downFactor() * 8;
        TorchGenerator g = new TorchGenerator(5);
        Tensor sample = g.randn(1, ch, side, side), context = g.randn(1, 7, unet.config().crossAttentionDim());
        Tensor noise = unet.forward(sample, new float[]{500f}, context, null);
        return List.of("image " + sha(image), "unet_wide " + sha(noise));
    }

    static String sha(Tensor t) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4 * t.numel());
        for (float v : t.data()) b.putInt(Float.floatToRawIntBits(v));
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    }
}

package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.vae.AutoencoderKL;
import dev.jdiffusion.model.vae.LatentDist;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;

import java.nio.file.Path;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Golden kind {@code vae}: {@code dec_*.latent -> dec_*.sample} (tol 2e-4) and {@code enc_*.image -> moments, latent_mean,
 * latent_logvar, latent_std, latent_sample, latent_sample_scaled} (tol 2e-5). Sub-cases are discovered from the input keys.
 */
final class VaeGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) {
        String caseName = caseDir.getFileName().toString();
        double DECODE_TOL = GoldenTolerances.of(caseName, "decode"), ENCODE_TOL = GoldenTolerances.of(caseName, "encode");
        Path model = Golden.resolve(info.path("model").asText());
        try (TensorSource weights = Checkpoint.openWeights(model);
             SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"))) {
            AutoencoderKL vae = AutoencoderKL.load(weights, Golden.json(model.resolve("config.json")));
            TreeSet<String> subcases = new TreeSet<>();
            for (String k : in.names()) if (k.contains(".")) subcases.add(k.substring(0, k.indexOf('.')));
            assertFalse(subcases.isEmpty(), "no sub-cases in " + caseDir);
            for (String sc : subcases) {
                String name = caseDir.getFileName() + "/" + sc;
                if (in.contains(sc + ".latent")) {
                    Tensor out = vae.decode(Tensor.of(in.get(sc + ".latent")), AutoencoderKL.Tiling.OFF);
                    Golden.compare(name + ".sample", exp.get(sc + ".sample").toFloatArray(), out.data(), DECODE_TOL);
                }
                if (in.contains(sc + ".image")) {
                    LatentDist d = vae.encode(Tensor.of(in.get(sc + ".image")));
                    Golden.compare(name + ".moments", exp.get(sc + ".moments").toFloatArray(), d.moments().data(), ENCODE_TOL);
                    Golden.compare(name + ".latent_mean", exp.get(sc + ".latent_mean").toFloatArray(), d.mean().data(), ENCODE_TOL);
                    Golden.compare(name + ".latent_logvar", exp.get(sc + ".latent_logvar").toFloatArray(), d.logvar().data(), ENCODE_TOL);
                    Golden.compare(name + ".latent_std", exp.get(sc + ".latent_std").toFloatArray(), d.std().data(), ENCODE_TOL);
                    if (in.contains(sc + ".noise")) {
                        Tensor sample = d.sample(in.get(sc + ".noise").toFloatArray());
                        Golden.compare(name + ".latent_sample", exp.get(sc + ".latent_sample").toFloatArray(), sample.data(), ENCODE_TOL);
                        float[] scaled = sample.data().clone();
                        for (int i = 0; i < scaled.length; i++) scaled[i] *= vae.scalingFactor();
                        Golden.compare(name + ".latent_sample_scaled", exp.get(sc + ".latent_sample_scaled").toFloatArray(), scaled, ENCODE_TOL);
                    }
                }
            }
        }
    }
}

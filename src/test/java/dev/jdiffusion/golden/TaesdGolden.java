package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.taesd.Taesd;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;

import java.nio.file.Path;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** Golden kind {@code taesd}: {@code enc_*.image -> enc_*.latent}, {@code dec_*.latent -> dec_*.image}, tol 1e-4; sub-cases from the keys. */
final class TaesdGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) {
        double TOL = GoldenTolerances.of(caseDir.getFileName().toString(), "latents");
        Path model = Golden.resolve(info.path("model").asText());
        try (Taesd taesd = Taesd.open(model);
             SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"))) {
            TreeSet<String> subcases = new TreeSet<>();
            for (String k : in.names()) if (k.contains(".")) subcases.add(k.substring(0, k.indexOf('.')));
            assertFalse(subcases.isEmpty(), "no sub-cases in " + caseDir);
            for (String sc : subcases) {
                String name = caseDir.getFileName() + "/" + sc;
                if (in.contains(sc + ".image")) {
                    Tensor lat = taesd.encode(Tensor.of(in.get(sc + ".image")));
                    Golden.compare(name + ".latent", exp.get(sc + ".latent").toFloatArray(), lat.data(), TOL);
                }
                if (in.contains(sc + ".latent")) {
                    Tensor img = taesd.decode(Tensor.of(in.get(sc + ".latent")));
                    Golden.compare(name + ".image", exp.get(sc + ".image").toFloatArray(), img.data(), TOL);
                }
            }
        }
    }
}

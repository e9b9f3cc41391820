package dev.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.golden.GoldenTolerances;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The sampling half of the golden pipeline cases, without any model: the seed gives the initial latents and the
 * per-step noise bit for bit, and the scheduler turns the recorded model outputs into the recorded latents.
 */
class PipelineReplayTest {

    @Test
    void pipelineCasesReplay() {
        List<Path> cases = Golden.caseDirs().stream()
                .filter(d -> "pipeline".equals(Golden.json(d.resolve("info.json")).path("kind").asText())).toList();
        Assumptions.assumeFalse(cases.isEmpty(), "no pipeline golden cases");
        for (Path d : cases) replay(d, Golden.json(d.resolve("info.json")));
    }

    private static void replay(Path dir, JsonNode info) {
        if ("sdxl".equals(info.path("family").asText())) {
            // SDXL cases name their Euler scheduler and its config; a case with sub-cases runs each.
            if (info.has("subcases")) for (JsonNode sub : info.get("subcases")) replayConfigured(dir, info, sub, sub.get("name").asText() + ".");
            else replayConfigured(dir, info, info, "");
            return;
        }
        String name = dir.getFileName().toString();
        boolean lcm = info.has("original_inference_steps");
        try (SafetensorsFile in = SafetensorsFile.open(dir.resolve("inputs.safetensors"));
             SafetensorsFile ex = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            TorchGenerator g = new TorchGenerator(info.path("seed").asLong());
            Tensor latents = Tensor.of(ex.get("latents"));
            int[] shape = java.util.Arrays.copyOfRange(latents.shape(), 1, latents.rank());
            if (info.has("generator_draws")) {
                // inpainting: everything the pipeline draws, in order (its initial latents are in expected)
                for (JsonNode d : info.get("generator_draws")) {
                    Tensor want = Tensor.of(in.get(d.asText()));
                    assertBitExact(name + " " + d.asText() + " from seed", want.data(), g.randn(want.shape()).data());
                }
            } else {
                Tensor init = Tensor.of(in.get("init_latents"));
                assertBitExact(name + " init_latents from seed", init.data(), g.randn(init.shape()).data());
            }

            ObjectNode base = Schedulers.defaultConfig(false);
            Scheduler s;
            if (lcm) {
                base.put("original_inference_steps", info.path("original_inference_steps").asInt());
                s = Schedulers.create("lcm", base);
            } else {
                s = new DdimScheduler(SchedulerConfig.parse(SchedulerConfig.with(base, "DDIMScheduler")), info.path("eta").asDouble(0));
            }
            int steps = info.path("steps").asInt();
            s.setTimesteps(steps);
            long[] ts = ex.get("timesteps").toLongArray();
            float[] mine = s.timesteps();
            int start = mine.length - ts.length; // strength below 1 runs the last steps only
            for (int i = 0; i < ts.length; i++) assertEquals(ts[i], (long) mine[start + i], name + " timestep " + i);

            // LCM pipelines record the model output as model_pred; LCM-LoRA runs (CFG) record the guided noise_pred
            Tensor pred = Tensor.of(ex.get(lcm && ex.contains("model_pred") ? "model_pred" : "noise_pred"));
            int per = latents.numel() / latents.dim(0);
            // the 4-channel inpainting blend follows each step: replay each step from the recorded latents
            Tensor beforeBlend = ex.find("latents_before_blend") != null ? Tensor.of(ex.get("latents_before_blend")) : null;
            Tensor noise = in.find("noise") != null ? Tensor.of(in.get("noise")) : null;
            // the generator continues after the initial latents: LCM's per-step noise comes from it
            NoiseSource src = lcm ? new NoiseSource() {
                int k = 0;
                @Override public Tensor next(int... sh) {
                    Tensor t = g.randn(sh);
                    if (noise != null) assertBitExact(name + " noise " + k, Arrays.copyOfRange(noise.data(), k * per, (k + 1) * per), t.data());
                    k++;
                    return t;
                }
            } : g;
            Tensor x = new Tensor(Arrays.copyOfRange(latents.data(), 0, per), shape);
            float[] got = new float[latents.numel()];
            System.arraycopy(x.data(), 0, got, 0, per);
            for (int i = 0; i < ts.length; i++) {
                Tensor eps = new Tensor(Arrays.copyOfRange(pred.data(), i * per, (i + 1) * per), shape);
                x = s.step(eps, start + i, s.scaleModelInput(x, start + i), src).prevSample();
                System.arraycopy(x.data(), 0, got, (i + 1) * per, per);
                if (beforeBlend != null) x = new Tensor(Arrays.copyOfRange(latents.data(), (i + 1) * per, (i + 2) * per), shape);
            }
            if (beforeBlend != null) {
                float[] want = latents.data().clone();
                System.arraycopy(beforeBlend.data(), 0, want, per, beforeBlend.numel());
                Golden.compare(name + " latents before the blend (scheduler replay)", want, got, GoldenTolerances.exactly(name, "latents"));
            } else Golden.compare(name + " latents (scheduler replay)", latents.data(), got, GoldenTolerances.exactly(name, "latents"));
        }
    }

    /** One run; sub gives steps and seed (falling back to info), keys are prefixed with p. */
    private static void replayConfigured(Path dir, JsonNode info, JsonNode sub, String p) {
        String name = dir.getFileName().toString() + (p.isEmpty() ? "" : " " + p.substring(0, p.length() - 1));
        try (SafetensorsFile in = SafetensorsFile.open(dir.resolve("inputs.safetensors"));
             SafetensorsFile ex = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            TorchGenerator g = new TorchGenerator(sub.path("seed").asLong(info.path("seed").asLong()));
            // The seed's draw is the initial noise; init_latents is it times the sampler's init_noise_sigma.
            Tensor init = Tensor.of(in.get(p + (in.contains(p + "init_noise") ? "init_noise" : "init_latents")));
            Tensor drawn = g.randn(init.shape());
            assertBitExact(name + " initial noise from seed", init.data(), drawn.data());

            ObjectNode cfg = info.get("scheduler_config").deepCopy();
            cfg.put("_class_name", info.get("scheduler").asText());
            Scheduler s = Schedulers.create(switch (info.get("scheduler").asText()) {
                case "EulerDiscreteScheduler" -> "euler";
                case "EulerAncestralDiscreteScheduler" -> "euler_a";
                case "DDIMScheduler" -> "ddim";
                default -> throw new IllegalStateException(name + ": scheduler " + info.get("scheduler").asText());
            }, cfg);
            int steps = sub.path("steps").asInt(info.path("steps").asInt());
            s.setTimesteps(steps);
            long[] ts = ex.get(p + "timesteps").toLongArray();
            float[] mine = s.timesteps();
            assertEquals(ts.length, mine.length, name + " timesteps");
            for (int i = 0; i < ts.length; i++) assertEquals(ts[i], (long) mine[i], name + " timestep " + i);
            if (ex.contains(p + "init_noise_sigma"))
                Golden.compare(name + " init_noise_sigma", ex.get(p + "init_noise_sigma").toFloatArray(), new float[]{s.initNoiseSigma()}, 0);

            Tensor pred = Tensor.of(ex.get(p + "noise_pred"));
            Tensor latents = Tensor.of(ex.get(p + "latents"));
            int[] shape = init.shape();
            int per = init.numel();
            Tensor noise = in.find(p + "noise") != null ? Tensor.of(in.get(p + "noise")) : null;
            // Euler ancestral's recorded noise is replayed; Euler draws (and multiplies by 0) from the generator.
            NoiseSource src = noise == null ? g : new NoiseSource() {
                int k = 0;
                @Override public Tensor next(int... sh) {
                    return new Tensor(Arrays.copyOfRange(noise.data(), k * per, (++k) * per), sh);
                }
            };
            Tensor x = new Tensor(Arrays.copyOfRange(latents.data(), 0, per), shape);
            float[] got = new float[latents.numel()];
            System.arraycopy(x.data(), 0, got, 0, per);
            for (int i = 0; i < steps; i++) {
                Tensor eps = new Tensor(Arrays.copyOfRange(pred.data(), i * per, (i + 1) * per), shape);
                x = s.step(eps, i, x, src).prevSample();
                System.arraycopy(x.data(), 0, got, (i + 1) * per, per);
            }
            Golden.compare(name + " latents (scheduler replay)", latents.data(), got, 1e-3);
        }
    }

    private static void assertBitExact(String label, float[] want, float[] got) {
        assertEquals(want.length, got.length, label);
        for (int i = 0; i < want.length; i++)
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), label + " at " + i);
        System.out.println("golden " + label + ": bit-exact over " + want.length + " values");
    }
}

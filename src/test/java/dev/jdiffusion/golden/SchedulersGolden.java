package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.sampling.AlphaScheduler;
import dev.jdiffusion.sampling.DdimScheduler;
import dev.jdiffusion.sampling.DpmSolverMultistepScheduler;
import dev.jdiffusion.sampling.EulerAncestralScheduler;
import dev.jdiffusion.sampling.EulerScheduler;
import dev.jdiffusion.sampling.Scheduler;
import dev.jdiffusion.sampling.SchedulerConfig;
import dev.jdiffusion.sampling.Schedulers;
import dev.jdiffusion.sampling.StepResult;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind {@code schedulers}: every sub-folder with a scheduler_config.json. Checks alphas_cumprod, the timesteps /
 * sigmas / init_noise_sigma for every step count the data holds, and runs every trajectory from its initial latents
 * with the recorded model outputs (and noise, where the reference drew some), comparing the model input, the latents
 * after every step and the clean-latents estimate, every element, against the README tolerance.
 */
final class SchedulersGolden implements GoldenKind {
    /** The README's tolerance for the case being run (set by {@link #run}). */
    private static double TOL;

    @Override
    public void run(Path caseDir, JsonNode info) throws IOException {
        TOL = GoldenTolerances.of(caseDir.getFileName().toString(), "latents");
        List<Path> dirs;
        try (Stream<Path> s = Files.list(caseDir)) {
            dirs = s.filter(d -> Files.isRegularFile(d.resolve("scheduler_config.json"))).sorted().toList();
        }
        if (dirs.isEmpty()) fail("schedulers golden: no scheduler folders in " + caseDir);
        List<String> failures = new ArrayList<>();
        for (Path d : dirs) {
            try {
                double err = runOne(d);
                System.out.printf("golden schedulers %-28s max abs err over all trajectories %.3e%n", d.getFileName(), err);
            } catch (AssertionError | RuntimeException e) {
                failures.add(d.getFileName() + ": " + e.getMessage());
                System.out.println("golden schedulers " + d.getFileName() + " FAILED: " + e.getMessage());
            }
        }
        if (!failures.isEmpty()) fail(failures.size() + " scheduler configurations failed:\n" + String.join("\n", failures));
    }

    private static double runOne(Path dir) {
        JsonNode config = Schedulers.readConfig(dir.resolve("scheduler_config.json"));
        JsonNode info = Golden.json(dir.resolve("info.json"));
        String name = dir.getFileName().toString();
        double eta = info.path("step_kwargs").path("eta").asDouble(0.0);
        Scheduler sched = "DDIMScheduler".equals(config.path("_class_name").asText())
                ? new DdimScheduler(SchedulerConfig.parse(config), eta) : Schedulers.fromConfig(config);
        try (SafetensorsFile data = SafetensorsFile.open(dir.resolve("data.safetensors"))) {
            if (data.find("alphas_cumprod") != null) {
                float[] ac = ((AlphaScheduler) sched).alphasCumprod();
                Golden.compare(name + " alphas_cumprod", data.get("alphas_cumprod").toFloatArray(), ac, 1e-6);
            }
            TreeSet<Integer> counts = new TreeSet<>();
            for (String k : data.names()) if (k.matches("N\\d+\\.timesteps")) counts.add(Integer.parseInt(k.substring(1, k.indexOf('.'))));
            for (int n : counts) {
                sched.setTimesteps(n);
                checkSchedule(name + " N" + n, sched, data, "N" + n + ".");
            }
            TreeSet<Integer> trajs = new TreeSet<>();
            for (String k : data.names()) if (k.matches("traj\\.N\\d+\\.latents")) trajs.add(Integer.parseInt(k.substring(6, k.indexOf('.', 6))));
            if (trajs.isEmpty()) fail(name + ": data.safetensors has no traj.N<steps>.* trajectory: nothing run");
            double max = 0;
            for (int n : trajs) max = Math.max(max, runTrajectory(name + " traj N" + n, sched, n, data, "traj.N" + n + "."));
            return max;
        }
    }

    private static void checkSchedule(String label, Scheduler sched, SafetensorsFile data, String p) {
        TensorView ts = data.get(p + "timesteps");
        float[] mine = sched.timesteps();
        if (ts.dtype() == DType.I64) {
            long[] m = new long[mine.length];
            for (int i = 0; i < m.length; i++) m[i] = (long) mine[i];
            Golden.compareExact(label + " timesteps", ts.toLongArray(), m);
        } else {
            Golden.compare(label + " timesteps", ts.toFloatArray(), mine, 1e-3);
        }
        if (data.find(p + "sigmas") != null) {
            float[] s = sched instanceof EulerScheduler e ? e.sigmas() : sched instanceof EulerAncestralScheduler a ? a.sigmas()
                    : ((DpmSolverMultistepScheduler) sched).sigmas();
            Golden.compare(label + " sigmas", data.get(p + "sigmas").toFloatArray(), s, TOL);
        }
        if (data.find(p + "init_noise_sigma") != null)
            Golden.compare(label + " init_noise_sigma", data.get(p + "init_noise_sigma").toFloatArray(), new float[]{sched.initNoiseSigma()}, TOL);
    }

    private static double runTrajectory(String label, Scheduler sched, int n, SafetensorsFile data, String p) {
        sched.setTimesteps(n);
        assertEquals(n, sched.numSteps(), label + ": step count");
        Tensor latents = Tensor.of(data.get(p + "latents"));
        Tensor modelIn = Tensor.of(data.get(p + "model_input"));
        Tensor modelOut = Tensor.of(data.get(p + "model_output"));
        Tensor noise = data.find(p + "noise") != null ? Tensor.of(data.get(p + "noise")) : null;
        long[] used = data.find(p + "noise_used") != null ? data.get(p + "noise_used").toLongArray() : null;
        String denoisedKey = Stream.of("denoised", "pred_original_sample", "converted_model_output")
                .filter(k -> data.find(p + k) != null).findFirst().orElse(null);
        Tensor denoised = denoisedKey != null ? Tensor.of(data.get(p + denoisedKey)) : null;

        int[] stepShape = Arrays.copyOfRange(latents.shape(), 1, latents.rank());
        int per = (int) Tensor.numel(stepShape);
        float[] gotLatents = new float[per * (n + 1)], gotIn = new float[per * n], gotDen = new float[per * n];
        Tensor x = slice(latents, 0, stepShape);
        System.arraycopy(x.data(), 0, gotLatents, 0, per);
        for (int i = 0; i < n; i++) {
            Tensor in = sched.scaleModelInput(x, i);
            System.arraycopy(in.data(), 0, gotIn, i * per, per);
            final int step = i;
            dev.jdiffusion.sampling.NoiseSource src = used != null && used[i] != 0
                    ? shape -> slice(noise, step, stepShape).reshape(shape) : null;
            StepResult r = sched.step(slice(modelOut, i, stepShape), i, x, src);
            x = r.prevSample();
            System.arraycopy(x.data(), 0, gotLatents, (i + 1) * per, per);
            System.arraycopy(r.denoised().data(), 0, gotDen, i * per, per);
        }
        Golden.compare(label + " model_input", modelIn.data(), gotIn, TOL);
        if (denoised != null) Golden.compare(label + " " + denoisedKey, denoised.data(), gotDen, TOL);
        return Golden.compare(label + " latents", latents.data(), gotLatents, TOL);
    }

    private static Tensor slice(Tensor t, int i, int[] shape) {
        int per = (int) Tensor.numel(shape);
        return new Tensor(Arrays.copyOfRange(t.data(), i * per, (i + 1) * per), shape);
    }
}

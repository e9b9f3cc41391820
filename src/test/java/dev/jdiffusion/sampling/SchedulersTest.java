package dev.jdiffusion.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SchedulersTest {
    private static final JsonNode SD = Schedulers.defaultConfig(false);

    @Test
    void everyNameBuildsTheRightClass() {
        assertInstanceOf(LcmScheduler.class, Schedulers.create("lcm", SD));
        assertInstanceOf(DdimScheduler.class, Schedulers.create("ddim", SD));
        assertInstanceOf(EulerScheduler.class, Schedulers.create("euler", SD));
        assertInstanceOf(EulerAncestralScheduler.class, Schedulers.create("euler_a", SD));
        assertInstanceOf(DpmSolverMultistepScheduler.class, Schedulers.create("dpmpp_2m", SD));
        DpmSolverMultistepScheduler k = (DpmSolverMultistepScheduler) Schedulers.create("dpmpp_2m_karras", SD);
        assertTrue(k.config().useKarrasSigmas());
        assertEquals(Schedulers.NAMES.size(), 6);
    }

    @Test
    void namedSamplerKeepsModelSchedule() {
        ObjectNode v = Schedulers.defaultConfig(true);
        AlphaScheduler s = (AlphaScheduler) Schedulers.create("euler", v);
        assertEquals("v_prediction", s.config().predictionType());
        assertEquals("leading", s.config().timestepSpacing());
        assertEquals(1, s.config().stepsOffset());
        assertEquals("scaled_linear", s.config().betaSchedule());
    }

    @Test
    void nullBaseUsesSd1Defaults() {
        AlphaScheduler s = (AlphaScheduler) Schedulers.create("ddim", null);
        s.setTimesteps(4);
        assertArrayEquals(new float[]{751, 501, 251, 1}, s.timesteps());
    }

    @Test
    void unknownNameAndClassAreClearErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("heun", SD));
        assertTrue(e.getMessage().contains("heun") && e.getMessage().contains("dpmpp_2m"));
        var e2 = assertThrows(IllegalArgumentException.class,
                () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "PNDMScheduler")));
        assertTrue(e2.getMessage().contains("PNDMScheduler"));
    }

    @Test
    void unsupportedOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DDIMScheduler", "thresholding", true)));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DDIMScheduler", "clip_sample", true)));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DDIMScheduler", "rescale_betas_zero_snr", true)));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DDIMScheduler", "beta_schedule", "sigmoid")));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DDIMScheduler", "prediction_type", "flow")));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DPMSolverMultistepScheduler", "algorithm_type", "sde-dpmsolver++")));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "DPMSolverMultistepScheduler", "solver_order", 3)));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.fromConfig(SchedulerConfig.with(SD, "EulerAncestralDiscreteScheduler", "use_karras_sigmas", true)));
        Scheduler s = Schedulers.fromConfig(SchedulerConfig.with(SD, "DDIMScheduler", "timestep_spacing", "karras"));
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(4));
    }

    @Test
    void badStepCountsAndOrder() {
        Scheduler ddim = Schedulers.create("ddim", SD);
        assertThrows(IllegalArgumentException.class, () -> ddim.setTimesteps(0));
        assertThrows(IllegalArgumentException.class, () -> ddim.setTimesteps(1001));
        assertThrows(IllegalStateException.class, ddim::timesteps);
        Scheduler lcm = Schedulers.create("lcm", SD);
        assertThrows(IllegalArgumentException.class, () -> lcm.setTimesteps(51)); // more than original_inference_steps
        Scheduler dpm = Schedulers.create("dpmpp_2m", SD);
        dpm.setTimesteps(4);
        Tensor x = Tensor.zeros(1, 4, 2, 2);
        dpm.step(x, 0, x, null);
        assertThrows(IllegalStateException.class, () -> dpm.step(x, 2, x, null));
    }

    @Test
    void stochasticSamplersNeedNoise() {
        Scheduler a = Schedulers.create("euler_a", SD);
        a.setTimesteps(2);
        assertTrue(a.isStochastic());
        Tensor x = Tensor.zeros(1, 4, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> a.step(x, 0, x, null));
        a.step(x, 0, x, new TorchGenerator(0));
    }

    @Test
    void eulerDrawsUnusedNoiseLikeDiffusers() {
        Scheduler e = Schedulers.create("euler", SD);
        e.setTimesteps(2);
        TorchGenerator g = new TorchGenerator(3);
        Tensor x = Tensor.zeros(1, 4, 4, 4);
        e.step(x, 0, x, g);
        TorchGenerator ref = new TorchGenerator(3);
        ref.randn(1, 4, 4, 4);
        assertEquals(ref.nextInt(), g.nextInt());
    }

    @Test
    void img2imgStartStepAndNoise() {
        assertEquals(0, Scheduler.startStep(20, 1.0));
        assertEquals(10, Scheduler.startStep(20, 0.5));
        assertEquals(20, Scheduler.startStep(20, 0.0));
        assertEquals(7, Scheduler.startStep(10, 0.3));
        assertThrows(IllegalArgumentException.class, () -> Scheduler.startStep(10, 1.5));

        Scheduler ddim = Schedulers.create("ddim", SD);
        ddim.setTimesteps(10);
        Tensor x = new Tensor(new float[]{1, 2}, 2), n = new Tensor(new float[]{1, -1}, 2);
        float a = ((AlphaScheduler) ddim).alphasCumprod()[(int) ddim.timesteps()[3]];
        Tensor y = ddim.addNoise(x, n, 3);
        assertEquals(Math.sqrt(a) * 1 + Math.sqrt(1 - a) * 1, y.data()[0], 1e-6);

        EulerScheduler eu = (EulerScheduler) Schedulers.create("euler", SD);
        eu.setTimesteps(10);
        Tensor z = eu.addNoise(x, n, 0);
        assertEquals(1 + eu.sigmas()[0], z.data()[0], 1e-6);
    }

    @Test
    void readsInfinityInConfigs() throws Exception {
        Path f = Files.createTempFile("sched", ".json");
        try {
            Files.writeString(f, "{\"_class_name\": \"DPMSolverMultistepScheduler\", \"lambda_min_clipped\": -Infinity, "
                    + "\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012}");
            Scheduler s = Schedulers.fromConfig(Schedulers.readConfig(f));
            s.setTimesteps(3);
            assertEquals(3, s.numSteps());
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Test
    void sameResultsFromTwoRuns() {
        for (String name : List.of("lcm", "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras")) {
            float[] r1 = run(name), r2 = run(name);
            assertArrayEquals(r1, r2, name);
        }
    }

    private static float[] run(String name) {
        Scheduler s = Schedulers.create(name, SD);
        s.setTimesteps(4);
        TorchGenerator g = new TorchGenerator(11);
        Tensor x = g.randn(1, 4, 4, 4);
        float sigma = s.initNoiseSigma();
        for (int i = 0; i < x.numel(); i++) x.data()[i] *= sigma;
        for (int i = 0; i < s.numSteps(); i++) {
            Tensor in = s.scaleModelInput(x, i);
            Tensor eps = new Tensor(in.data().clone(), in.shape()); // a stand-in model
            x = s.step(eps, i, x, g).prevSample();
        }
        for (float v : x.data()) assertTrue(Float.isFinite(v), name);
        return x.data();
    }
}

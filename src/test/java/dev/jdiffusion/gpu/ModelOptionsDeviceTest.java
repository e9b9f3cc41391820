package dev.jdiffusion.gpu;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The API side of device selection: {@code ModelOptions.withDevice} and what {@code StableDiffusion.load} does with it. */
class ModelOptionsDeviceTest {
    static final Path MODEL = Golden.resolve("models/tiny-sd1");

    @Test void defaultIsCpuAndNamesAreChecked() {
        ModelOptions o = ModelOptions.of(MODEL);
        assertEquals("cpu", o.device());
        assertEquals("cuda:1", o.withDevice("CUDA:1").device());
        assertEquals("auto", o.withDevice("auto").withVae(null).withTaesdDecode(false).device(), "kept by the other withers");
        assertEquals("cpu", new ModelOptions(MODEL, null, null, null, null, null, false).device());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> o.withDevice("tpu"));
        assertEquals("device must be auto, cpu, cuda or cuda:N, got 'tpu'", e.getMessage());
    }

    @Test void cudaFailsAtLoadInOneLineAndAutoLoadsOnTheCpu() {
        CudaException e = assertThrows(CudaException.class, () -> StableDiffusion.load(ModelOptions.of(MODEL).withDevice("cuda")));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().contains("no NVIDIA driver is installed") || e.getMessage().contains("not found: looked for")
                   || e.getMessage().contains("not wired into the pipeline yet"), e.getMessage());
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(MODEL).withDevice("auto"))) {
            assertEquals(Device.CPU, Device.forPipeline("auto"));
            assertTrue(sd.modelName() != null);
        }
    }
}

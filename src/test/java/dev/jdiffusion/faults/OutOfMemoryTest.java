package dev.jdiffusion.faults;

import dev.jdiffusion.pipeline.GenerationException;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The heap running out in the middle of a run ends that run with a clear error; the engine stays usable. */
class OutOfMemoryTest {

    @Test void outOfMemoryMidRunIsAnErrorAndTheNextRunIsUnaffected() {
        try (StableDiffusion sd = StableDiffusion.load(Tiny.sd1())) {
            GenerationRequest req = Tiny.small(7).build();
            Tensor before = sd.generate(req).images().get(0);
            // the heap runs out at the second step (as a real allocation failure would surface: an Error on this thread)
            GenerationRequest failing = Tiny.small(7).progress(e -> {
                if (e.step() == 2) throw new OutOfMemoryError("Java heap space");
            }).build();
            GenerationException e = assertThrows(GenerationException.class, () -> sd.generate(failing));
            String m = e.getMessage();
            assertTrue(m.contains("out of memory") && m.contains("64x64") && m.contains("-Xmx") && m.contains("still loaded"), m);
            assertFalse(m.contains("\n"), m);
            assertInstanceOf(OutOfMemoryError.class, e.getCause());
            // the same request again: the same pixels, on the same instance
            assertTrue(Tiny.same(before, sd.generate(req).images().get(0)), "the run after the failure differs");
            // a batch names its size too
            GenerationException eb = assertThrows(GenerationException.class, () -> sd.generate(Tiny.small(7).batch(2).progress(ev -> {
                throw new OutOfMemoryError("Java heap space");
            }).build()));
            assertTrue(eb.getMessage().contains("64x64, batch 2"), eb.getMessage());
        }
    }

    @Test void otherErrorsAreNotDisguised() {
        try (StableDiffusion sd = StableDiffusion.load(Tiny.sd1())) {
            StackOverflowError so = assertThrows(StackOverflowError.class, () -> sd.generate(Tiny.small(1).progress(e -> {
                throw new StackOverflowError("boom");
            }).build()));
            assertTrue(so.getMessage().equals("boom"));
            InternalError ie = assertThrows(InternalError.class, () -> sd.generate(Tiny.small(1).progress(e -> {
                throw new InternalError("something else");
            }).build()));
            assertTrue(ie.getMessage().equals("something else"));
            assertTrue(sd.generate(Tiny.small(1).steps(1).build()).images().size() == 1);
        }
    }
}

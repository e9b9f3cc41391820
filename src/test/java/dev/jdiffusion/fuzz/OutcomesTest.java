package dev.jdiffusion.fuzz;

import dev.jdiffusion.weights.ModelFormatException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fuzz contract itself: a real hang (an input that never finishes) trips the watchdog; findings are rethrown. */
class OutcomesTest {
    @Test
    void anEndlessLoopTripsTheWatchdog() {
        AssertionError e = assertThrows(AssertionError.class, () -> Outcomes.expectResultOrDocumented(300, () -> {
            while (!Thread.currentThread().isInterrupted()) Thread.onSpinWait();   // never returns by itself
        }, ModelFormatException.class));
        assertTrue(e.getMessage().contains("hang"), e.getMessage());
        assertTrue(e.getCause() != null && e.getCause().getStackTrace().length > 0, "the stuck thread's stack");
    }

    @Test
    void documentedOutcomesPassAndOthersAreFindings() {
        Outcomes.expectResultOrModelFormat(() -> {});
        Outcomes.expectResultOrModelFormat(() -> { throw new ModelFormatException("x: bad"); });
        assertThrows(IllegalStateException.class, () -> Outcomes.expectResultOrModelFormat(() -> { throw new IllegalStateException("bug"); }));
        assertThrows(AssertionError.class, () -> Outcomes.expectResultOrModelFormat(() -> { throw new ModelFormatException(" "); }));
    }
}

package dev.jdiffusion.model.unet;

/**
 * Reusable work arrays for one forward pass (never shared between concurrent passes). A slot's array grows to the
 * largest size asked for and is then reused: kernels are given explicit lengths, so arrays may be longer than needed.
 * It also carries the pass's module listener, told the name of each module (e.g. {@code down_blocks.1.attentions.0})
 * once the module has run, so that a caller can release that module's weight pages. Public only so that a
 * {@link MidBlock.Attention} of another model can pass it through; it has no public members.
 */
public final class Scratch {
    static final int NORM = 0, Q = 1, K = 2, V = 3, ATTN = 4, OUT = 5, FF_PROJ = 6, FF_GATE = 7;
    private final float[][] slots = new float[8][];
    private final java.util.function.Consumer<String> moduleDone;

    Scratch() { this(null); }

    Scratch(java.util.function.Consumer<String> moduleDone) { this.moduleDone = moduleDone; }

    /** Tells the listener that the module (diffusers' name) has run. */
    void done(String module) {
        if (moduleDone != null) moduleDone.accept(module);
    }

    /** An array of at least n floats for the slot; its contents are arbitrary. */
    float[] get(int slot, int n) {
        float[] a = slots[slot];
        if (a == null || a.length < n) slots[slot] = a = new float[n];
        return a;
    }
}

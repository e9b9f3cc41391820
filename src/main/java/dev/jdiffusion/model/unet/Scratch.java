package dev.jdiffusion.model.unet;

/**
 * Reusable work arrays for one forward pass (never shared between concurrent passes). A slot's array grows to the
 * largest size asked for and is then reused: kernels are given explicit lengths, so arrays may be longer than needed.
 */
final class Scratch {
    static final int NORM = 0, Q = 1, K = 2, V = 3, ATTN = 4, OUT = 5, FF_PROJ = 6, FF_GATE = 7;
    private final float[][] slots = new float[8][];

    /** An array of at least n floats for the slot; its contents are arbitrary. */
    float[] get(int slot, int n) {
        float[] a = slots[slot];
        if (a == null || a.length < n) slots[slot] = a = new float[n];
        return a;
    }
}

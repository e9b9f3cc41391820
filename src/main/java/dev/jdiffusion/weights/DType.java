package dev.jdiffusion.weights;

/** Element types of a safetensors file. F32, F16 and BF16 are computed with; the others are readable. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /** Size of one element in bytes. */
    public int bytes() { return bytes; }

    /** True for the floating types the engine computes with (F32, F16, BF16, F64). */
    public boolean isFloating() { return this == F32 || this == F16 || this == BF16 || this == F64; }

    /** Parses a safetensors dtype string; returns null when unknown. */
    public static DType parse(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }
}

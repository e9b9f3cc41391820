package dev.jdiffusion.weights;

/** Element types of a safetensors file. F32, F16 and BF16 are computed with; the others are readable. */
public enum DType {
    /** IEEE 754 binary64. */
    F64(8),
    /** IEEE 754 binary32. */
    F32(4),
    /** IEEE 754 binary16 (half precision). */
    F16(2),
    /** bfloat16: the upper 16 bits of a binary32. */
    BF16(2),
    /** Signed 64-bit integer. */
    I64(8),
    /** Signed 32-bit integer. */
    I32(4),
    /** Signed 16-bit integer. */
    I16(2),
    /** Signed 8-bit integer. */
    I8(1),
    /** Unsigned 8-bit integer. */
    U8(1),
    /** Boolean, one byte per element. */
    BOOL(1);

    private final int bytes;

    DType(int bytes) { this.bytes = bytes; }

    /**
     * Size of one element.
     *
     * @return the element size in bytes (1, 2, 4 or 8)
     */
    public int bytes() { return bytes; }

    /**
     * Whether this is a floating type (F32, F16, BF16, F64).
     *
     * @return true for the floating types, false for the integer and boolean types
     */
    public boolean isFloating() { return this == F32 || this == F16 || this == BF16 || this == F64; }

    /**
     * Parses a safetensors dtype string.
     *
     * @param s the dtype as written in a safetensors header (exact, case-sensitive, e.g. {@code "F16"}); may be null
     * @return the type, or null when {@code s} names no known type
     */
    public static DType parse(String s) {
        for (DType d : values()) if (d.name().equals(s)) return d;
        return null;
    }
}

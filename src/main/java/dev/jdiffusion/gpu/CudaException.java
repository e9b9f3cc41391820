package dev.jdiffusion.gpu;

/**
 * A CUDA library could not be found or loaded, or a CUDA, cuBLAS or driver call failed. The message is one line that
 * says what was looked for or called, where, and what the error code means.
 */
public final class CudaException extends RuntimeException {
    private final int code;

    /** A failure without an error code (e.g. a library that was not found): {@link #code()} is -1. */
    public CudaException(String message) {
        this(message, -1, null);
    }

    public CudaException(String message, int code, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The CUDA / cuBLAS / driver error code, or -1 when the failure was not a call's status. */
    public int code() { return code; }
}

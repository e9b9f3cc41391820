package dev.jdiffusion.gpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** Downcall plumbing shared by the CUDA bindings: handles from a loaded library, and calls that return a status. */
final class Native {
    private Native() {}

    static final Linker LINKER = Linker.nativeLinker();

    static MethodHandle handle(CudaLibraries.Loaded lib, String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(lib.symbol(name), fd);
    }

    /** Calls a function that returns an int status (cudaError_t, cublasStatus_t, CUresult). */
    static int status(MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Calls a function that returns a pointer. */
    static MemorySegment pointer(MethodHandle h, Object... args) {
        try {
            return (MemorySegment) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A C string at {@code p}, or {@code fallback} for NULL. */
    static String string(MemorySegment p, String fallback) {
        if (p == null || p.equals(MemorySegment.NULL)) return fallback;
        return p.reinterpret(4096).getString(0);
    }

    /** "13.0" for 13000, as CUDA encodes versions (1000 * major + 10 * minor). */
    static String version(int v) {
        return v / 1000 + "." + (v % 1000) / 10;
    }
}

package dev.jdiffusion.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** cblas_sgemm from libopenblas.so.0 through FFM, or null when the library is not installed. */
final class OpenBlas {
    private OpenBlas() {}

    static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    private static final MethodHandle SGEMM = find();

    private static MethodHandle find() {
        try {
            SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
            ValueLayout.OfInt I = ValueLayout.JAVA_INT;
            ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
            ValueLayout A = ValueLayout.ADDRESS;
            return Linker.nativeLinker().downcallHandle(lib.find("cblas_sgemm").orElseThrow(),
                    FunctionDescriptor.ofVoid(I, I, I, I, I, I, F, A, I, A, I, F, A, I));
        } catch (RuntimeException e) {
            System.err.println("OpenBLAS baseline skipped: libopenblas.so.0 not found (apt-get install libopenblas0): " + e.getMessage());
            return null;
        }
    }

    static boolean available() { return SGEMM != null; }

    /** Row-major C = A (M x K) * op(B) with B (K x N) or, when transB, (N x K). */
    static void sgemm(boolean transB, int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            SGEMM.invokeExact(ROW_MAJOR, NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, 1f, a, k, b, transB ? k : n, 0f, c, n);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }
}

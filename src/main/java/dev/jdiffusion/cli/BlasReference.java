package dev.jdiffusion.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.Random;

/**
 * The reference {@code bench --profile} compares each op kind with: OpenBLAS's {@code cblas_sgemm} on a square
 * product, measured in the same run with the same thread count. Found through FFM in the system's
 * {@code libopenblas.so.0} (Debian: {@code apt-get install libopenblas0}) when it is installed; the engine never
 * needs it. Benchmarks only.
 */
final class BlasReference {
    private BlasReference() {}

    private static final int ROW_MAJOR = 101, NO_TRANS = 111;

    /** Median GFLOP/s of row-major n x n x n sgemm over the given runs (after two warm-up calls), or NaN when OpenBLAS is absent. */
    static double sgemmGflops(int n, int runs, int threads) {
        MethodHandle sgemm, setThreads;
        try {
            SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
            Linker linker = Linker.nativeLinker();
            ValueLayout.OfInt i = ValueLayout.JAVA_INT;
            ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT;
            ValueLayout p = ValueLayout.ADDRESS;
            sgemm = linker.downcallHandle(lib.find("cblas_sgemm").orElseThrow(),
                    FunctionDescriptor.ofVoid(i, i, i, i, i, i, f, p, i, p, i, f, p, i));
            setThreads = linker.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(i));
        } catch (RuntimeException e) {
            return Double.NaN;
        }
        try (Arena arena = Arena.ofConfined()) {
            long bytes = 4L * n * n;
            MemorySegment a = arena.allocate(bytes, 64), b = arena.allocate(bytes, 64), c = arena.allocate(bytes, 64);
            Random r = new Random(1);
            for (long k = 0; k < (long) n * n; k++) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT, k, r.nextFloat() - 0.5f);
                b.setAtIndex(ValueLayout.JAVA_FLOAT, k, r.nextFloat() - 0.5f);
            }
            setThreads.invokeExact(threads);
            double[] g = new double[runs];
            for (int k = -2; k < runs; k++) {
                long t0 = System.nanoTime();
                sgemm.invokeExact(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
                long t = System.nanoTime() - t0;
                if (k >= 0) g[k] = 2.0 * n * n * n / t;
            }
            Arrays.sort(g);
            return g[runs / 2];
        } catch (Throwable t) {
            return Double.NaN;
        }
    }
}

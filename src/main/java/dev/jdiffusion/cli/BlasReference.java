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
 * The reference speed benchmarks compare with: OpenBLAS's {@code cblas_sgemm}, found through FFM in the system's
 * {@code libopenblas.so.0} (Debian: {@code apt-get install libopenblas0}) when it is installed; the engine never
 * needs it. {@code bench --profile} measures it in the same run ({@link #sgemmGflops}); the JMH benchmarks and
 * {@code GemmDuel} (bench/) call {@link #sgemm} directly. Benchmarks only; the library is looked up on first use.
 */
public final class BlasReference {
    private BlasReference() {}

    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

    /**
     * cblas_sgemm and openblas_set_num_threads, or nulls when the library is not installed; openblas_get_corename, or
     * null where this build lacks it.
     */
    private static final class Lib {
        static final MethodHandle SGEMM, SET_THREADS, CORE_NAME;

        static {
            MethodHandle s = null, t = null, n = null;
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
                Linker linker = Linker.nativeLinker();
                ValueLayout.OfInt i = ValueLayout.JAVA_INT;
                ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT;
                ValueLayout p = ValueLayout.ADDRESS;
                s = linker.downcallHandle(lib.find("cblas_sgemm").orElseThrow(),
                        FunctionDescriptor.ofVoid(i, i, i, i, i, i, f, p, i, p, i, f, p, i));
                t = linker.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(i));
                var name = lib.find("openblas_get_corename");
                if (name.isPresent()) n = linker.downcallHandle(name.get(), FunctionDescriptor.of(p));
            } catch (RuntimeException e) {
                s = t = n = null;
            }
            SGEMM = s;
            SET_THREADS = t;
            CORE_NAME = n;
        }
    }

    /** @return whether libopenblas.so.0 was found (with cblas_sgemm and openblas_set_num_threads) */
    public static boolean available() { return Lib.SGEMM != null; }

    /**
     * The kernel set OpenBLAS chose for this CPU (openblas_get_corename: e.g. "SkylakeX", "Haswell"), or null when
     * OpenBLAS or the function is absent. Worth printing beside every reference figure: OpenBLAS 0.3.21 does not know
     * newer CPUs (Intel family 6 model 207 got a generic kernel: 67.5 GFLOP/s on 2 cores where OPENBLAS_CORETYPE=SkylakeX
     * gives 335), and OPENBLAS_CORETYPE overrides the choice.
     *
     * @return the core name, or null
     */
    public static String coreName() {
        if (Lib.CORE_NAME == null) return null;
        try {
            MemorySegment p = (MemorySegment) Lib.CORE_NAME.invokeExact();
            return p.equals(MemorySegment.NULL) ? null : p.reinterpret(64).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    /**
     * Row-major C = A (m x k) * op(B), op(B) = B (k x n) or, when transB, Bᵀ with B stored n x k; C is m x n.
     *
     * @throws IllegalStateException if OpenBLAS is not installed ({@link #available()})
     */
    public static void sgemm(boolean transB, int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        if (!available()) throw new IllegalStateException("OpenBLAS is not installed (libopenblas.so.0)");
        try {
            Lib.SGEMM.invokeExact(ROW_MAJOR, NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, 1f, a, k, b, transB ? k : n, 0f, c, n);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    /** Median GFLOP/s of row-major n x n x n sgemm over the given runs (after two warm-up calls), or NaN when OpenBLAS is absent. */
    static double sgemmGflops(int n, int runs, int threads) {
        if (!available()) return Double.NaN;
        try (Arena arena = Arena.ofConfined()) {
            long bytes = 4L * n * n;
            MemorySegment a = arena.allocate(bytes, 64), b = arena.allocate(bytes, 64), c = arena.allocate(bytes, 64);
            Random r = new Random(1);
            for (long k = 0; k < (long) n * n; k++) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT, k, r.nextFloat() - 0.5f);
                b.setAtIndex(ValueLayout.JAVA_FLOAT, k, r.nextFloat() - 0.5f);
            }
            Lib.SET_THREADS.invokeExact(threads);
            double[] g = new double[runs];
            for (int k = -2; k < runs; k++) {
                long t0 = System.nanoTime();
                sgemm(false, n, n, n, a, b, c);
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

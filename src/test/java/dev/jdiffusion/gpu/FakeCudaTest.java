package dev.jdiffusion.gpu;

import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The bindings against host-only stand-ins for libcudart, libcublas and libcuda ({@code fake_cuda.c}, compiled here
 * with the system C compiler against the real CUDA headers, so struct layouts and enum values are the toolkit's).
 * This checks the Java side: symbol names, argument order and marshalling, the cudaDeviceProp offsets, and GpuGemm's
 * row-major to column-major mapping against {@code Gemm.linear}. It does not check CUDA itself. Skipped where there is
 * no C compiler or no CUDA headers (CI).
 */
class FakeCudaTest {
    @TempDir static Path home;
    static CudaLibraries libs;
    static Path lib;

    @BeforeAll static void build() throws IOException, InterruptedException {
        Path cc = Stream.of("cc", "gcc", "clang").flatMap(n -> Stream.of(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                .filter(d -> !d.isBlank()).map(d -> Path.of(d, n))).filter(Files::isExecutable).findFirst().orElse(null);
        assumeTrue(cc != null, "no C compiler");
        Path inc = Stream.of(System.getenv("CUDA_HOME"), "/usr/local/cuda").filter(s -> s != null && !s.isBlank())
                .map(s -> Path.of(s, "include")).filter(p -> Files.isRegularFile(p.resolve("cuda_runtime_api.h"))).findFirst().orElse(null);
        assumeTrue(inc != null, "no CUDA headers");
        Path src = home.resolve("fake_cuda.c");
        try (InputStream in = FakeCudaTest.class.getResourceAsStream("fake_cuda.c")) {
            Files.copy(in, src);
        }
        Path dir = Files.createDirectories(home.resolve("lib64"));
        lib = dir.resolve("libfake.so");
        Process p = new ProcessBuilder(cc.toString(), "-shared", "-fPIC", "-O1", "-I" + inc, "-o", lib.toString(), src.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        for (String n : List.of("libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcuda.so.1"))
            Files.copy(lib, dir.resolve(n), StandardCopyOption.REPLACE_EXISTING);
        libs = CudaLibraries.of(Map.of("CUDA_HOME", home.toString()), false);
    }

    static long fakeLong(String lib, String fn) {
        MemorySegment f = SymbolLookup.libraryLookup(home.resolve("lib64").resolve(lib), Arena.global()).find(fn).orElseThrow();
        try {
            return (long) Native.LINKER.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_LONG)).invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static String fakeString(String lib, String fn) {
        MemorySegment f = SymbolLookup.libraryLookup(home.resolve("lib64").resolve(lib), Arena.global()).find(fn).orElseThrow();
        return Native.string(Native.pointer(Native.LINKER.downcallHandle(f, FunctionDescriptor.of(ValueLayout.ADDRESS))), "");
    }

    @Test void runtimeCallsAndDeviceProperties() {
        CudaRuntime rt = CudaRuntime.load(libs);
        assertEquals(13000, rt.runtimeVersion());
        assertEquals(home.resolve("lib64/libcudart.so.13").toString(), rt.location());
        assertEquals(1, rt.deviceCount());
        CudaDeviceInfo info = rt.properties(0);
        assertEquals(new CudaDeviceInfo(0, "Fake GPU", 3L << 30, 9, 0, 132), info); // name at 0, totalGlobalMem at 288
        Device d = Device.select("cuda", () -> rt);
        assertTrue(d.isCuda());
        assertTrue(d.note().startsWith("cuda:0 Fake GPU, compute capability 9.0, 3.0 GiB, 132 SMs; CUDA runtime 13.0 found at "), d.note());
        assertTrue(Device.select("auto", () -> rt).isCuda());
        CudaException e = assertThrows(CudaException.class, () -> Device.select("cuda:1", () -> rt));
        assertTrue(e.getMessage().startsWith("cuda:1 asked for but CUDA runtime 13.0 found at ") && e.getMessage().endsWith(" sees 1 device (cuda:0)"),
                e.getMessage());
        assertEquals(List.of(2L << 30, 3L << 30), List.of(rt.memoryInfo()[0], rt.memoryInfo()[1]));

        long before = fakeLong("libcudart.so.13", "fakeLiveAllocations");
        float[] a = {1, -2, 3.5f, Float.MIN_VALUE, Float.NaN};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment h = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a), back = arena.allocate(4L * a.length);
            long p = rt.malloc(4L * a.length);
            rt.copyToDevice(p, h, 4L * a.length);
            rt.copyToHost(back, p, 4L * a.length);
            org.junit.jupiter.api.Assertions.assertArrayEquals(a, back.toArray(ValueLayout.JAVA_FLOAT));
            rt.free(p);
        }
        assertEquals(before, fakeLong("libcudart.so.13", "fakeLiveAllocations"));
        CudaException oom = assertThrows(CudaException.class, () -> rt.malloc(1L << 41));
        assertEquals("out of GPU memory in cudaMalloc(2199023255552 bytes) (cudaErrorMemoryAllocation)", oom.getMessage());
        long s = rt.streamCreate();
        rt.streamSynchronize(s);
        rt.streamDestroy(s);
        assertThrows(CudaException.class, () -> rt.streamSynchronize(12345));
    }

    static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    static float[] half(float[] a, boolean bf16) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++)
            r[i] = bf16 ? Float.intBitsToFloat(GpuGemm.toBf16(a[i]) << 16) : Float.float16ToFloat(Float.floatToFloat16(a[i]));
        return r;
    }

    static void assertClose(float[] expected, float[] actual, double tol) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(expected[i] - actual[i]));
        assertTrue(max <= tol, "max abs error " + max);
    }

    @Test void gpuGemmIsTheLinearLayer() {
        CudaRuntime rt = CudaRuntime.load(libs);
        long before = fakeLong("libcudart.so.13", "fakeLiveAllocations");
        SplittableRandom rnd = new SplittableRandom(7);
        int rows = 5, in = 19, out = 11;
        float[] x = random(rnd, rows * in), w = random(rnd, out * in), bias = random(rnd, out);
        try (Cublas blas = Cublas.create(rt, libs); Arena arena = Arena.ofConfined()) {
            // heap FP32 weight: converted to FP16 at upload; activations rounded to FP16 too
            float[] ref = new float[rows * out + 3], got = new float[rows * out + 3];
            Gemm.linear(half(x, false), 0, rows, Matrix.of(half(w, false), out, in), bias, ref, 3);
            try (GpuGemm g = GpuGemm.upload(rt, blas, Matrix.of(w, out, in), bias)) {
                g.linear(x, 0, rows, got, 3);
                g.linear(x, 0, rows, got, 3); // buffers reused
                assertClose(ref, got, 1e-5);
                float[] x9 = random(rnd, 9 * in), ref9 = new float[9 * out], got9 = new float[9 * out];
                Gemm.linear(half(x9, false), 0, 9, Matrix.of(half(w, false), out, in), bias, ref9, 0);
                g.linear(x9, 0, 9, got9, 0); // buffers grow
                assertClose(ref9, got9, 1e-5);
                assertThrows(IllegalArgumentException.class, () -> g.linear(x, 0, rows + 1, new float[rows * out], 0));
            }

            // mapped F16 and BF16 weights are copied as they are
            for (DType t : new DType[]{DType.F16, DType.BF16}) {
                boolean bf = t == DType.BF16;
                MemorySegment seg = arena.allocate(2L * w.length, 2);
                for (int i = 0; i < w.length; i++) seg.setAtIndex(ValueLayout.JAVA_SHORT, i, bf ? GpuGemm.toBf16(w[i]) : Float.floatToFloat16(w[i]));
                TensorView v = new TensorView("w", "test", t, new long[]{out, in}, seg);
                float[] r2 = new float[rows * out], g2 = new float[rows * out];
                Gemm.linear(half(x, bf), 0, rows, Matrix.of(half(w, bf), out, in), null, r2, 0);
                try (GpuGemm g = GpuGemm.upload(rt, blas, Matrix.of(v), null)) {
                    g.linear(x, 0, rows, g2, 0);
                }
                assertClose(r2, g2, 1e-5);
            }

            // sgemm: row-major C = A·Bᵀ as column-major sgemm(T, N, m=N, n=M, k=K)
            float[] c = new float[rows * out];
            Gemm.linear(x, 0, rows, Matrix.of(w, out, in), null, c, 0);
            MemorySegment hx = arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), hw = arena.allocateFrom(ValueLayout.JAVA_FLOAT, w);
            MemorySegment hc = arena.allocate(4L * c.length);
            long dx = rt.malloc(hx.byteSize()), dw = rt.malloc(hw.byteSize()), dc = rt.malloc(hc.byteSize());
            rt.copyToDevice(dx, hx, hx.byteSize());
            rt.copyToDevice(dw, hw, hw.byteSize());
            blas.setStream(0);
            blas.sgemm(Cublas.OP_T, Cublas.OP_N, out, rows, in, 1f, dw, in, dx, in, 0f, dc, out);
            rt.copyToHost(hc, dc, hc.byteSize());
            assertClose(c, hc.toArray(ValueLayout.JAVA_FLOAT), 1e-5);
            CudaException e = assertThrows(CudaException.class, () -> blas.sgemm(Cublas.OP_T, Cublas.OP_N, out, rows, in, 1f, dw, 1, dx, in, 0f, dc, out));
            assertTrue(e.getMessage().startsWith("cublasSgemm_v2(m=11, n=5, k=19) failed with CUBLAS_STATUS_INVALID_VALUE: the value is invalid (cuBLAS at "),
                    e.getMessage());
            for (long p : new long[]{dx, dw, dc}) rt.free(p);
        }
        assertEquals(before, fakeLong("libcudart.so.13", "fakeLiveAllocations"), "every device buffer freed");
    }

    @Test void driverLoadsThePtxAndMarshalsLaunchArguments() {
        CudaDriver drv = CudaDriver.load(libs);
        drv.usePrimaryContext(0);
        PtxKernels k = PtxKernels.load(drv);
        drv.launch(k.function("softmax_rows"), 7, 1, 1, 256, 1, 1, 0, 0x5000, 0x1234L, 0x5678L, 77, 0.125f);
        assertEquals("softmax_rows grid 7,1,1 block 256,1,1 shared 0 stream 5000 x=1234 y=5678 cols=77 scale=0.125",
                fakeString("libcuda.so.1", "fakeLastLaunch"));
        drv.launch(k.function("add_per_channel"), 1, 1, 1, 256, 1, 1, 0, 0, 0L, 0L, 3_000_000_000L, 320, 4096);
        assertEquals("add_per_channel batch=3000000000 channels=320 hw=4096", fakeString("libcuda.so.1", "fakeLastLaunch"));
        CudaException e = assertThrows(CudaException.class, () -> drv.function(k.module(), "nope"));
        assertTrue(e.getMessage().startsWith("cuModuleGetFunction(nope) failed: CUDA_ERROR_NOT_FOUND: fake driver error (driver at "), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> drv.launch(1, 1, 1, 1, 1, 1, 1, 0, 0, "x"));
    }
}

package dev.jdiffusion.gpu;

import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.kernels.LayerNorm;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.kernels.Softmax;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The first thing to run on a machine with a GPU: checks every GPU binding against the CPU kernels and prints one
 * line per check ({@code PASS}/{@code FAIL}, max abs error, tolerance), then GEMM timings. Exit code 0 when all pass,
 * 1 when one fails, 2 when no CUDA device is usable (with the one-line reason).
 *
 * <pre>java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp jdiffusion.jar dev.jdiffusion.gpu.GpuSelfCheck</pre>
 *
 * Without cuBLAS the GEMM checks are reported as skipped and the kernels (driver API only) still run.
 */
public final class GpuSelfCheck {
    private final CudaRuntime rt;
    private final Arena arena = Arena.ofShared();
    private final SplittableRandom rnd = new SplittableRandom(42);
    private int failures;

    private GpuSelfCheck(CudaRuntime rt) {
        this.rt = rt;
    }

    public static void main(String[] args) {
        Device d;
        try {
            d = Device.select(args.length > 0 ? args[0] : "cuda");
        } catch (CudaException e) {
            System.out.println("NO DEVICE " + e.getMessage());
            System.exit(2);
            return;
        }
        System.out.println("device " + d.note());
        CudaRuntime rt = CudaRuntime.load();
        rt.setDevice(d.cuda().orElseThrow().ordinal());
        GpuSelfCheck c = new GpuSelfCheck(rt);
        c.run(d.cuda().orElseThrow().ordinal());
        System.out.println(c.failures == 0 ? "ALL PASS" : c.failures + " FAILED");
        System.exit(c.failures == 0 ? 0 : 1);
    }

    private void run(int ordinal) {
        step("memcpy round trip", this::roundTrip);
        Cublas blas = null;
        try {
            blas = Cublas.create(rt, CudaLibraries.system());
            System.out.println("cuBLAS " + blas.location());
        } catch (CudaException e) {
            System.out.println("SKIP cuBLAS checks: " + e.getMessage());
        }
        if (blas != null) {
            Cublas b = blas;
            step("sgemm C = A·Bᵀ 77x96x130", () -> sgemm(b, 77, 96, 130));
            step("GpuGemm fp16 linear 200x320->640", () -> gemm(b, 200, 320, 640));
            step("GpuGemm timing", () -> timing(b));
        }
        CudaDriver drv;
        PtxKernels k;
        try {
            drv = CudaDriver.load(CudaLibraries.system());
            rt.malloc(4); // makes the runtime create the primary context before the driver API uses it
            drv.usePrimaryContext(ordinal);
            k = PtxKernels.load(drv);
        } catch (CudaException e) {
            System.out.println("FAIL loading the PTX kernels: " + e.getMessage());
            failures++;
            return;
        }
        step("group_norm_silu", () -> groupNorm(drv, k));
        step("softmax_rows", () -> softmax(drv, k));
        step("layer_norm_rows", () -> layerNorm(drv, k));
        step("gelu / silu / geglu", () -> activations(drv, k));
        if (blas != null) {
            Cublas b = blas;
            step("conv 3x3 pad 1 (im2col + sgemm + bias)", () -> conv(drv, k, b, 1));
            step("conv 3x3 stride 2 (im2col + sgemm + bias)", () -> conv(drv, k, b, 2));
        }
    }

    private interface Check {
        void run();
    }

    private void step(String name, Check c) {
        try {
            c.run();
        } catch (RuntimeException | LinkageError e) {
            failures++;
            System.out.println("FAIL " + name + ": " + e);
        }
    }

    private void report(String name, float[] expected, float[] actual, double tol) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) max = Math.max(max, Math.abs((double) expected[i] - actual[i]));
        boolean ok = max <= tol && !Double.isNaN(max);
        if (!ok) failures++;
        System.out.printf(Locale.ROOT, "%s %s: max abs error %.3g (tolerance %.1g, %d values)%n", ok ? "PASS" : "FAIL", name, max, tol,
                expected.length);
    }

    private float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private long upload(float[] a) {
        long p = rt.malloc(4L * a.length);
        MemorySegment s = arena.allocate(4L * a.length, 16);
        MemorySegment.copy(a, 0, s, ValueLayout.JAVA_FLOAT, 0, a.length);
        rt.copyToDevice(p, s, 4L * a.length);
        return p;
    }

    private float[] download(long p, int n) {
        MemorySegment s = arena.allocate(4L * n, 16);
        rt.copyToHost(s, p, 4L * n);
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }

    private void roundTrip() {
        float[] a = random(1 << 20);
        long p = upload(a);
        float[] b = download(p, a.length);
        rt.free(p);
        report("memcpy round trip", a, b, 0);
    }

    private static float[] roundToHalf(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) r[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
        return r;
    }

    /** Row-major C[M,N] = A[M,K]·B[N,K]ᵀ through column-major sgemm(T, N, m=N, n=M, k=K). */
    private void sgemm(Cublas b, int m, int n, int kk) {
        float[] a = random(m * kk), w = random(n * kk), c = new float[m * n];
        Gemm.linear(a, 0, m, Matrix.of(w, n, kk), null, c, 0);
        long da = upload(a), dw = upload(w), dc = rt.malloc(4L * m * n);
        b.sgemm(Cublas.OP_T, Cublas.OP_N, n, m, kk, 1f, dw, kk, da, kk, 0f, dc, n);
        float[] g = download(dc, m * n);
        rt.free(da);
        rt.free(dw);
        rt.free(dc);
        report("sgemm", c, g, 1e-4 * kk); // TF32 off (CUBLAS_DEFAULT_MATH): only summation order differs
    }

    private void gemm(Cublas b, int rows, int in, int out) {
        float[] x = random(rows * in), w = random(out * in), bias = random(out), y = new float[rows * out], g = new float[rows * out];
        // reference: the same half-rounded inputs in FP32, so only the accumulation order differs
        Gemm.linear(roundToHalf(x), 0, rows, Matrix.of(roundToHalf(w), out, in), bias, y, 0);
        try (GpuGemm gg = GpuGemm.upload(rt, b, Matrix.of(w, out, in), bias)) {
            gg.linear(x, 0, rows, g, 0);
        }
        report("GpuGemm fp16", y, g, 1e-5 * in);
    }

    private void timing(Cublas b) {
        int[][] shapes = {{4096, 320, 320}, {4096, 320, 2560}, {1024, 640, 640}, {256, 1280, 5120}};
        for (int[] s : shapes) {
            float[] x = random(s[0] * s[1]), w = random(s[2] * s[1]), y = new float[s[0] * s[2]];
            try (GpuGemm gg = GpuGemm.upload(rt, b, Matrix.of(w, s[2], s[1]), null)) {
                gg.linear(x, 0, s[0], y, 0);
                int reps = 5;
                long t0 = System.nanoTime();
                for (int r = 0; r < reps; r++) gg.linear(x, 0, s[0], y, 0);
                double sec = (System.nanoTime() - t0) / 1e9 / reps;
                System.out.printf(Locale.ROOT, "TIME GpuGemm %dx%d->%d with host copies: %.3f ms, %.1f GFLOP/s%n", s[0], s[1], s[2], sec * 1e3,
                        2.0 * s[0] * s[1] * s[2] / sec / 1e9);
            }
        }
    }

    private static int blocks(long n) {
        return (int) Math.min(65535, (n + 255) / 256);
    }

    private void groupNorm(CudaDriver drv, PtxKernels k) {
        int n = 2, c = 64, hw = 37, groups = 32;
        float[] x = random(n * c * hw), gamma = random(c), beta = random(c), y = new float[x.length];
        GroupNorm.forward(x, n, c, hw, groups, gamma, beta, 1e-6f, true, y);
        long dx = upload(x), dy = rt.malloc(4L * x.length), dg = upload(gamma), db = upload(beta);
        drv.launch(k.function("group_norm_silu"), n * groups, 1, 1, 256, 1, 1, 0, 0, dx, dy, dg, db, c, hw, groups, 1e-6f, 1);
        report("group_norm_silu", y, download(dy, x.length), 1e-5);
        for (long p : new long[]{dx, dy, dg, db}) rt.free(p);
    }

    private void softmax(CudaDriver drv, PtxKernels k) {
        int rows = 33, cols = 77;
        float[] x = random(rows * cols), y = x.clone();
        Softmax.rows(y, 0, rows, cols);
        long dx = upload(x), dy = rt.malloc(4L * x.length);
        drv.launch(k.function("softmax_rows"), rows, 1, 1, 256, 1, 1, 0, 0, dx, dy, cols, 1f);
        report("softmax_rows", y, download(dy, x.length), 1e-5);
        rt.free(dx);
        rt.free(dy);
    }

    private void layerNorm(CudaDriver drv, PtxKernels k) {
        int rows = 19, cols = 320;
        float[] x = random(rows * cols), gamma = random(cols), beta = random(cols), y = new float[x.length];
        LayerNorm.forward(x, rows, cols, gamma, beta, 1e-5f, y);
        long dx = upload(x), dy = rt.malloc(4L * x.length), dg = upload(gamma), db = upload(beta);
        drv.launch(k.function("layer_norm_rows"), rows, 1, 1, 256, 1, 1, 0, 0, dx, dy, dg, db, cols, 1e-5f);
        report("layer_norm_rows", y, download(dy, x.length), 1e-5);
        for (long p : new long[]{dx, dy, dg, db}) rt.free(p);
    }

    private void activations(CudaDriver drv, PtxKernels k) {
        int n = 10007;
        float[] x = random(n);
        for (int i = 0; i < n; i++) x[i] *= 6;
        float[] ge = x.clone(), si = x.clone();
        Activations.gelu(ge, 0, n);
        Activations.silu(si, 0, n);
        long dx = upload(x), dy = rt.malloc(4L * n);
        drv.launch(k.function("gelu"), blocks(n), 1, 1, 256, 1, 1, 0, 0, dx, dy, (long) n);
        report("gelu", ge, download(dy, n), 1e-5);
        drv.launch(k.function("silu"), blocks(n), 1, 1, 256, 1, 1, 0, 0, dx, dy, (long) n);
        report("silu", si, download(dy, n), 1e-5);
        rt.free(dx);
        rt.free(dy);
        int rows = 29, d = 160;
        float[] g = random(rows * 2 * d), out = new float[rows * d];
        Activations.geglu(g, rows, d, out);
        long dg = upload(g), dout = rt.malloc(4L * rows * d);
        drv.launch(k.function("geglu"), blocks((long) rows * d), 1, 1, 256, 1, 1, 0, 0, dg, dout, (long) rows, d);
        report("geglu", out, download(dout, rows * d), 1e-5);
        rt.free(dg);
        rt.free(dout);
    }

    /** One image: im2col, then Y[cout, oh*ow] = W[cout, K]·col[K, oh*ow] (column-major: Yᶜ = colᶜ·Wᶜ), then bias. */
    private void conv(CudaDriver drv, PtxKernels k, Cublas b, int stride) {
        int cin = 8, h = 13, w = 11, cout = 16, kh = 3, kw = 3, pad = 1;
        int oh = Conv2d.outSize(h, kh, stride, pad, pad), ow = Conv2d.outSize(w, kw, stride, pad, pad), kk = cin * kh * kw, p = oh * ow;
        float[] x = random(cin * h * w), wt = random(cout * kk), bias = random(cout), y = new float[cout * p];
        Conv2d.forward(x, 1, cin, h, w, Matrix.of(wt, cout, kk), kh, kw, bias, stride, pad, y);
        long dx = upload(x), dcol = rt.malloc(4L * kk * p), dw = upload(wt), dy = rt.malloc(4L * cout * p), db = upload(bias);
        drv.launch(k.function("im2col"), blocks((long) kk * p), 1, 1, 256, 1, 1, 0, 0, dx, dcol, cin, h, w, kh, kw, stride, pad, pad, oh, ow);
        // row-major Y[cout, p] = W[cout, kk]·col[kk, p]  <=>  column-major Yᶜ[p, cout] = colᶜ[p, kk]·Wᶜ[kk, cout]
        b.sgemm(Cublas.OP_N, Cublas.OP_N, p, cout, kk, 1f, dcol, p, dw, kk, 0f, dy, p);
        drv.launch(k.function("add_per_channel"), blocks((long) cout * p), 1, 1, 256, 1, 1, 0, 0, dy, db, 1L, cout, p);
        report("conv stride " + stride, y, download(dy, cout * p), 1e-4 * kk);
        for (long q : new long[]{dx, dcol, dw, dy, db}) rt.free(q);
    }
}

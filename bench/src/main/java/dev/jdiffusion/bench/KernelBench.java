package dev.jdiffusion.bench;

import dev.jdiffusion.cli.BlasReference;
import dev.jdiffusion.kernels.Activations;
import dev.jdiffusion.kernels.Attention;
import dev.jdiffusion.kernels.Conv2d;
import dev.jdiffusion.kernels.Gemm;
import dev.jdiffusion.kernels.GroupNorm;
import dev.jdiffusion.kernels.Matrix;
import dev.jdiffusion.kernels.Parallel;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorView;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Kernel benchmarks at Stable Diffusion shapes. Average time per call; {@link BenchMain} turns it into GFLOP/s.
 * Shapes are strings so that one @Param lists them all.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class KernelBench {

    static float[] rand(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat() - 0.5f;
        return a;
    }

    static MemorySegment native32(float[] a) {
        MemorySegment s = Arena.global().allocate(4L * a.length, 64);
        MemorySegment.copy(a, 0, s, ValueLayout.JAVA_FLOAT, 0, a.length);
        return s;
    }

    /** An F16 weight tensor in native memory, as a mapped safetensors file would hand it. */
    static Matrix f16(float[] w, int rows, int cols) {
        MemorySegment s = Arena.global().allocate(2L * w.length, 64);
        ValueLayout.OfShort h = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < w.length; i++) s.set(h, 2L * i, Float.floatToFloat16(w[i]));
        return Matrix.of(new TensorView("bench.weight", "memory", DType.F16, new long[] {rows, cols}, s));
    }

    /** C = A B with A, B, C square n x n: ours versus OpenBLAS (cblas_sgemm) on the same data. */
    @State(Scope.Benchmark)
    public static class Square {
        @Param({"2048"}) public int n;
        float[] a, b, c;
        MemorySegment na, nb, nc;

        @Setup(Level.Trial)
        public void setup() {
            a = rand(n * n, 1);
            b = rand(n * n, 2);
            c = new float[n * n];
            na = native32(a);
            nb = native32(b);
            nc = Arena.global().allocate(4L * n * n, 64);
        }
    }

    @Benchmark
    public float matmulOurs(Square s) {
        Gemm.sgemm(false, false, s.n, s.n, s.n, 1f, s.a, 0, s.n, s.b, 0, s.n, 0f, s.c, 0, s.n);
        return s.c[0];
    }

    @Benchmark
    public float matmulOpenBlas(Square s) {
        if (!BlasReference.available()) return 0f;
        BlasReference.sgemm(false, s.n, s.n, s.n, s.na, s.nb, s.nc);
        return s.nc.get(ValueLayout.JAVA_FLOAT, 0);
    }

    /** Linear layers at SD 1.5 shapes "rows x in x out", weight F16 (mapped-file layout) or F32 heap. */
    @State(Scope.Benchmark)
    public static class Linear {
        @Param({"4096x320x320", "4096x320x1280", "4096x1280x320", "4096x320x2560", "77x768x320", "1024x640x640", "256x1280x1280"})
        public String shape;
        @Param({"F16"}) public String weight;
        int rows, in, out;
        float[] x, y, bias;
        Matrix w;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = shape.split("x");
            rows = Integer.parseInt(p[0]);
            in = Integer.parseInt(p[1]);
            out = Integer.parseInt(p[2]);
            x = rand(rows * in, 3);
            y = new float[rows * out];
            bias = rand(out, 4);
            float[] wd = rand(out * in, 5);
            w = weight.equals("F16") ? f16(wd, out, in) : Matrix.of(wd, out, in);
        }
    }

    @Benchmark
    public float linear(Linear s) {
        Gemm.linear(s.x, 0, s.rows, s.w, s.bias, s.y, 0);
        return s.y[0];
    }

    /** 3x3 stride-1 pad-1 convolutions "channels x height x width" (cin = cout), F16 weights. */
    @State(Scope.Benchmark)
    public static class Conv {
        @Param({"320x64x64", "640x32x32", "1280x16x16", "512x64x64", "256x256x256", "128x512x512"})
        public String shape;
        int c, h, w;
        float[] x, y, bias;
        Matrix wt;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = shape.split("x");
            c = Integer.parseInt(p[0]);
            h = Integer.parseInt(p[1]);
            w = Integer.parseInt(p[2]);
            x = rand(c * h * w, 6);
            y = new float[c * h * w];
            bias = rand(c, 7);
            wt = f16(rand(c * c * 9, 8), c, c * 9);
        }
    }

    @Benchmark
    public float conv3x3(Conv s) {
        Conv2d.forward(s.x, 1, s.c, s.h, s.w, s.wt, 3, 3, s.bias, 1, 1, s.y);
        return s.y[0];
    }

    /** Attention "lq x lk x headDim x heads" (batch 1). */
    @State(Scope.Benchmark)
    public static class Attn {
        @Param({"4096x4096x40x8", "4096x77x40x8", "1024x1024x80x8", "1024x77x80x8", "256x256x160x8"})
        public String shape;
        int lq, lk, d, h;
        float[] q, k, v, o;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = shape.split("x");
            lq = Integer.parseInt(p[0]);
            lk = Integer.parseInt(p[1]);
            d = Integer.parseInt(p[2]);
            h = Integer.parseInt(p[3]);
            q = rand(lq * h * d, 9);
            k = rand(lk * h * d, 10);
            v = rand(lk * h * d, 11);
            o = new float[q.length];
        }
    }

    @Benchmark
    public float attention(Attn s) {
        Attention.forward(s.q, s.k, s.v, 1, s.h, s.lq, s.lk, s.d, false, (float) (1 / Math.sqrt(s.d)), s.o);
        return s.o[0];
    }

    /** GEGLU over a projection's output (rows x 2d -> rows x d): the U-Net's feed-forward activation. Shape "rowsxd". */
    @State(Scope.Benchmark)
    public static class Geglu {
        @Param({"4096x1280"}) public String shape;
        /** Inputs uniform in [-spread/2, spread/2): 8 stays within |x| < 4 (no lane in erf's far tail, |x| > 5.66), 16 reaches it. */
        @Param({"8"}) public float spread;
        int rows, d;
        float[] x, out;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = shape.split("x");
            rows = Integer.parseInt(p[0]);
            d = Integer.parseInt(p[1]);
            x = rand(rows * 2 * d, 12);
            for (int i = 0; i < x.length; i++) x[i] *= spread;
            out = new float[rows * d];
        }
    }

    @Benchmark
    public float geglu(Geglu s) {
        Activations.geglu(s.x, s.rows, s.d, s.out);
        return s.out[0];
    }

    /** GroupNorm (32 groups) + SiLU in place over channels x height x width, as every ResNet block runs it. Shape "CxHxW". */
    @State(Scope.Benchmark)
    public static class Norm {
        @Param({"320x64x64", "128x512x512"}) public String shape;
        int c, hw;
        float[] x, gamma, beta;

        @Setup(Level.Trial)
        public void setup() {
            String[] p = shape.split("x");
            c = Integer.parseInt(p[0]);
            hw = Integer.parseInt(p[1]) * Integer.parseInt(p[2]);
            x = rand(c * hw, 13);
            gamma = rand(c, 14);
            beta = rand(c, 15);
        }
    }

    @Benchmark
    public float groupNormSilu(Norm s) {
        // in place: the next call normalises an already normalised tensor, the same work on the same memory
        GroupNorm.forward(s.x, 1, s.c, s.hw, 32, s.gamma, s.beta, 1e-6f, true, s.x);
        return s.x[0];
    }

    /** Overhead of one parallel loop over the whole pool with an empty body (the U-Net runs thousands). */
    @Benchmark
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void parallelForEmpty() {
        Parallel.forRange(Parallel.threads(), (a, b) -> { });
    }
}

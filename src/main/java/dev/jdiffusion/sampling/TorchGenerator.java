package dev.jdiffusion.sampling;

import dev.jdiffusion.tensor.Tensor;

/**
 * PyTorch's CPU random generator, reproduced bit for bit: the same seed gives the same {@code torch.randn} and
 * {@code torch.rand} float32 values as {@code torch.Generator().manual_seed(seed)} (torch 1.13 on x86-64), and
 * successive draws continue the same stream.
 *
 * <p>The engine is a 32-bit Mersenne Twister (mt19937). {@code rand} takes 24 bits of one draw per value.
 * {@code randn} has two paths, as in ATen's {@code normal_kernel}:
 * <ul>
 *   <li>16 values or more: fill with float uniforms, then Box-Muller on blocks of 16 (the first 8 uniforms give
 *   the radius, the last 8 the angle) with the AVX2 kernel's float {@code log}/{@code sincos} approximations; when
 *   the count is not a multiple of 16, the last 16 values are drawn again and recomputed.</li>
 *   <li>fewer than 16: per value, double-precision Box-Muller from two 53-bit uniforms, caching the second value
 *   of each pair in the generator for the next call.</li>
 * </ul>
 * Not thread-safe.
 */
public final class TorchGenerator implements NoiseSource {
    private static final int N = 624, M = 397;
    private final int[] mt = new int[N];
    private int index;
    private boolean hasCachedNormal;
    private double cachedNormal;

    /**
     * A generator seeded as {@code torch.Generator().manual_seed(seed)} (only the low 32 bits of seed matter).
     *
     * @param seed the seed
     */
    public TorchGenerator(long seed) {
        mt[0] = (int) seed;
        for (int i = 1; i < N; i++) mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        index = N;
    }

    /** {@return the next raw 32-bit output of mt19937 (as an unsigned value in an int)} */
    public int nextInt() {
        if (index >= N) twist();
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
            int v = mt[(i + M) % N] ^ (y >>> 1);
            if ((y & 1) != 0) v ^= 0x9908b0df;
            mt[i] = v;
        }
        index = 0;
    }

    /** A 64-bit draw: two 32-bit outputs, the first one in the high half. */
    private long nextLong() {
        long hi = nextInt() & 0xffffffffL;
        long lo = nextInt() & 0xffffffffL;
        return (hi << 32) | lo;
    }

    /** A float uniform in [0, 1) from the low 24 bits of one draw. */
    private float nextFloatUniform() {
        return (nextInt() & 0xffffff) * (1.0f / (1 << 24));
    }

    /** A double uniform in [0, 1) from the low 53 bits of a 64-bit draw. */
    private double nextDoubleUniform() {
        return (nextLong() & ((1L << 53) - 1)) * (1.0 / (1L << 53));
    }

    /**
     * {@code torch.rand(n, generator=g)}: n float32 uniforms in [0, 1).
     *
     * @param n how many, 0 or more
     * @return a new array
     */
    public float[] rand(int n) {
        checkCount(n);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = nextFloatUniform();
        return out;
    }

    /**
     * {@code torch.randn(n, generator=g)}: n float32 standard normals, bit for bit as PyTorch's CPU generator.
     *
     * @param n how many, 0 or more
     * @return a new array
     */
    public float[] randn(int n) {
        checkCount(n);
        float[] out = new float[n];
        if (n >= 16) {
            for (int i = 0; i < n; i++) out[i] = nextFloatUniform();
            for (int i = 0; i + 16 <= n; i += 16) BoxMuller16.transform(out, i);
            if (n % 16 != 0) {
                int start = n - 16;
                for (int i = 0; i < 16; i++) out[start + i] = nextFloatUniform();
                BoxMuller16.transform(out, start);
            }
        } else {
            for (int i = 0; i < n; i++) out[i] = (float) nextDoubleNormal();
        }
        return out;
    }

    /**
     * {@code torch.randn(shape, generator=g)} as a tensor.
     *
     * @param shape the dimensions
     * @return a new tensor of standard normals
     * @throws IllegalArgumentException more values than an array holds
     */
    public Tensor randn(int... shape) {
        long n = Tensor.numel(shape);
        if (n > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("too many values: " + n);
        return new Tensor(randn((int) n), shape);
    }

    /**
     * {@code torch.rand(shape, generator=g)} as a tensor.
     *
     * @param shape the dimensions
     * @return a new tensor of uniforms in [0, 1)
     * @throws IllegalArgumentException more values than an array holds
     */
    public Tensor rand(int... shape) {

        long n = Tensor.numel(shape);
        if (n > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("too many values: " + n);
        return new Tensor(rand((int) n), shape);
    }

    @Override
    public Tensor next(int... shape) { return randn(shape); }

    private double nextDoubleNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = nextDoubleUniform();
        double u2 = nextDoubleUniform();
        double r = Math.sqrt(-2.0 * Math.log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        hasCachedNormal = true;
        return r * Math.cos(theta);
    }

    private static void checkCount(int n) {
        if (n < 0) throw new IllegalArgumentException("negative count " + n);
    }
}

package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Register-blocked micro-kernels over packed panels, one per shape (rows x vectors) that {@link KernelConfig}
 * can choose: each keeps its rows x vectors accumulators in locals, so C2 holds them in vector registers when the
 * shape fits the register file. All compute every C element as one fused multiply-add chain over k ascending
 * from zero, so the result does not depend on the shape. Generated code: edit the generator pattern, not one body.
 */
final class MicroKernels {
    private MicroKernels() {}

    private static final VectorSpecies<Float> S = KernelConfig.SPECIES;
    private static final int L = S.length();

    /** Runs shape number kind of {@link KernelConfig#SHAPES} (a constant at the GEMM's call site, so C2 folds the switch). */
    static void run(int kind, int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        switch (kind) {
            case 0 -> k4x3(kc, a, ao, b, bo, t);
            case 1 -> k6x2(kc, a, ao, b, bo, t);
            case 2 -> k4x2(kc, a, ao, b, bo, t);
            case 3 -> k8x2(kc, a, ao, b, bo, t);
            default -> k3x3(kc, a, ao, b, bo, t);
        }
    }

    /** 4 rows x 3 vectors: A panel a[ao + k*4 + r], B panel b[bo + k*3L + j]; accumulators to t (rows of 3L). */
    static void k4x3(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c0_0 = z, c0_1 = z, c0_2 = z;
        FloatVector c1_0 = z, c1_1 = z, c1_2 = z;
        FloatVector c2_0 = z, c2_1 = z, c2_2 = z;
        FloatVector c3_0 = z, c3_1 = z, c3_2 = z;
        for (int k = 0; k < kc; k++, ao += 4, bo += 3 * L) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bo + 2 * L);
            FloatVector x = FloatVector.broadcast(S, a[ao]);
            c0_0 = b0.fma(x, c0_0);
            c0_1 = b1.fma(x, c0_1);
            c0_2 = b2.fma(x, c0_2);
            x = FloatVector.broadcast(S, a[ao + 1]);
            c1_0 = b0.fma(x, c1_0);
            c1_1 = b1.fma(x, c1_1);
            c1_2 = b2.fma(x, c1_2);
            x = FloatVector.broadcast(S, a[ao + 2]);
            c2_0 = b0.fma(x, c2_0);
            c2_1 = b1.fma(x, c2_1);
            c2_2 = b2.fma(x, c2_2);
            x = FloatVector.broadcast(S, a[ao + 3]);
            c3_0 = b0.fma(x, c3_0);
            c3_1 = b1.fma(x, c3_1);
            c3_2 = b2.fma(x, c3_2);
        }
        c0_0.intoArray(t, 0 * L);
        c0_1.intoArray(t, 1 * L);
        c0_2.intoArray(t, 2 * L);
        c1_0.intoArray(t, 3 * L);
        c1_1.intoArray(t, 4 * L);
        c1_2.intoArray(t, 5 * L);
        c2_0.intoArray(t, 6 * L);
        c2_1.intoArray(t, 7 * L);
        c2_2.intoArray(t, 8 * L);
        c3_0.intoArray(t, 9 * L);
        c3_1.intoArray(t, 10 * L);
        c3_2.intoArray(t, 11 * L);
    }

    /** 6 rows x 2 vectors: A panel a[ao + k*6 + r], B panel b[bo + k*2L + j]; accumulators to t (rows of 2L). */
    static void k6x2(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c0_0 = z, c0_1 = z;
        FloatVector c1_0 = z, c1_1 = z;
        FloatVector c2_0 = z, c2_1 = z;
        FloatVector c3_0 = z, c3_1 = z;
        FloatVector c4_0 = z, c4_1 = z;
        FloatVector c5_0 = z, c5_1 = z;
        for (int k = 0; k < kc; k++, ao += 6, bo += 2 * L) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector x = FloatVector.broadcast(S, a[ao]);
            c0_0 = b0.fma(x, c0_0);
            c0_1 = b1.fma(x, c0_1);
            x = FloatVector.broadcast(S, a[ao + 1]);
            c1_0 = b0.fma(x, c1_0);
            c1_1 = b1.fma(x, c1_1);
            x = FloatVector.broadcast(S, a[ao + 2]);
            c2_0 = b0.fma(x, c2_0);
            c2_1 = b1.fma(x, c2_1);
            x = FloatVector.broadcast(S, a[ao + 3]);
            c3_0 = b0.fma(x, c3_0);
            c3_1 = b1.fma(x, c3_1);
            x = FloatVector.broadcast(S, a[ao + 4]);
            c4_0 = b0.fma(x, c4_0);
            c4_1 = b1.fma(x, c4_1);
            x = FloatVector.broadcast(S, a[ao + 5]);
            c5_0 = b0.fma(x, c5_0);
            c5_1 = b1.fma(x, c5_1);
        }
        c0_0.intoArray(t, 0 * L);
        c0_1.intoArray(t, 1 * L);
        c1_0.intoArray(t, 2 * L);
        c1_1.intoArray(t, 3 * L);
        c2_0.intoArray(t, 4 * L);
        c2_1.intoArray(t, 5 * L);
        c3_0.intoArray(t, 6 * L);
        c3_1.intoArray(t, 7 * L);
        c4_0.intoArray(t, 8 * L);
        c4_1.intoArray(t, 9 * L);
        c5_0.intoArray(t, 10 * L);
        c5_1.intoArray(t, 11 * L);
    }

    /** 4 rows x 2 vectors: A panel a[ao + k*4 + r], B panel b[bo + k*2L + j]; accumulators to t (rows of 2L). */
    static void k4x2(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c0_0 = z, c0_1 = z;
        FloatVector c1_0 = z, c1_1 = z;
        FloatVector c2_0 = z, c2_1 = z;
        FloatVector c3_0 = z, c3_1 = z;
        for (int k = 0; k < kc; k++, ao += 4, bo += 2 * L) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector x = FloatVector.broadcast(S, a[ao]);
            c0_0 = b0.fma(x, c0_0);
            c0_1 = b1.fma(x, c0_1);
            x = FloatVector.broadcast(S, a[ao + 1]);
            c1_0 = b0.fma(x, c1_0);
            c1_1 = b1.fma(x, c1_1);
            x = FloatVector.broadcast(S, a[ao + 2]);
            c2_0 = b0.fma(x, c2_0);
            c2_1 = b1.fma(x, c2_1);
            x = FloatVector.broadcast(S, a[ao + 3]);
            c3_0 = b0.fma(x, c3_0);
            c3_1 = b1.fma(x, c3_1);
        }
        c0_0.intoArray(t, 0 * L);
        c0_1.intoArray(t, 1 * L);
        c1_0.intoArray(t, 2 * L);
        c1_1.intoArray(t, 3 * L);
        c2_0.intoArray(t, 4 * L);
        c2_1.intoArray(t, 5 * L);
        c3_0.intoArray(t, 6 * L);
        c3_1.intoArray(t, 7 * L);
    }

    /** 8 rows x 2 vectors: A panel a[ao + k*8 + r], B panel b[bo + k*2L + j]; accumulators to t (rows of 2L). */
    static void k8x2(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c0_0 = z, c0_1 = z;
        FloatVector c1_0 = z, c1_1 = z;
        FloatVector c2_0 = z, c2_1 = z;
        FloatVector c3_0 = z, c3_1 = z;
        FloatVector c4_0 = z, c4_1 = z;
        FloatVector c5_0 = z, c5_1 = z;
        FloatVector c6_0 = z, c6_1 = z;
        FloatVector c7_0 = z, c7_1 = z;
        for (int k = 0; k < kc; k++, ao += 8, bo += 2 * L) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector x = FloatVector.broadcast(S, a[ao]);
            c0_0 = b0.fma(x, c0_0);
            c0_1 = b1.fma(x, c0_1);
            x = FloatVector.broadcast(S, a[ao + 1]);
            c1_0 = b0.fma(x, c1_0);
            c1_1 = b1.fma(x, c1_1);
            x = FloatVector.broadcast(S, a[ao + 2]);
            c2_0 = b0.fma(x, c2_0);
            c2_1 = b1.fma(x, c2_1);
            x = FloatVector.broadcast(S, a[ao + 3]);
            c3_0 = b0.fma(x, c3_0);
            c3_1 = b1.fma(x, c3_1);
            x = FloatVector.broadcast(S, a[ao + 4]);
            c4_0 = b0.fma(x, c4_0);
            c4_1 = b1.fma(x, c4_1);
            x = FloatVector.broadcast(S, a[ao + 5]);
            c5_0 = b0.fma(x, c5_0);
            c5_1 = b1.fma(x, c5_1);
            x = FloatVector.broadcast(S, a[ao + 6]);
            c6_0 = b0.fma(x, c6_0);
            c6_1 = b1.fma(x, c6_1);
            x = FloatVector.broadcast(S, a[ao + 7]);
            c7_0 = b0.fma(x, c7_0);
            c7_1 = b1.fma(x, c7_1);
        }
        c0_0.intoArray(t, 0 * L);
        c0_1.intoArray(t, 1 * L);
        c1_0.intoArray(t, 2 * L);
        c1_1.intoArray(t, 3 * L);
        c2_0.intoArray(t, 4 * L);
        c2_1.intoArray(t, 5 * L);
        c3_0.intoArray(t, 6 * L);
        c3_1.intoArray(t, 7 * L);
        c4_0.intoArray(t, 8 * L);
        c4_1.intoArray(t, 9 * L);
        c5_0.intoArray(t, 10 * L);
        c5_1.intoArray(t, 11 * L);
        c6_0.intoArray(t, 12 * L);
        c6_1.intoArray(t, 13 * L);
        c7_0.intoArray(t, 14 * L);
        c7_1.intoArray(t, 15 * L);
    }

    /** 3 rows x 3 vectors: A panel a[ao + k*3 + r], B panel b[bo + k*3L + j]; accumulators to t (rows of 3L). */
    static void k3x3(int kc, float[] a, int ao, float[] b, int bo, float[] t) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c0_0 = z, c0_1 = z, c0_2 = z;
        FloatVector c1_0 = z, c1_1 = z, c1_2 = z;
        FloatVector c2_0 = z, c2_1 = z, c2_2 = z;
        for (int k = 0; k < kc; k++, ao += 3, bo += 3 * L) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bo + 2 * L);
            FloatVector x = FloatVector.broadcast(S, a[ao]);
            c0_0 = b0.fma(x, c0_0);
            c0_1 = b1.fma(x, c0_1);
            c0_2 = b2.fma(x, c0_2);
            x = FloatVector.broadcast(S, a[ao + 1]);
            c1_0 = b0.fma(x, c1_0);
            c1_1 = b1.fma(x, c1_1);
            c1_2 = b2.fma(x, c1_2);
            x = FloatVector.broadcast(S, a[ao + 2]);
            c2_0 = b0.fma(x, c2_0);
            c2_1 = b1.fma(x, c2_1);
            c2_2 = b2.fma(x, c2_2);
        }
        c0_0.intoArray(t, 0 * L);
        c0_1.intoArray(t, 1 * L);
        c0_2.intoArray(t, 2 * L);
        c1_0.intoArray(t, 3 * L);
        c1_1.intoArray(t, 4 * L);
        c1_2.intoArray(t, 5 * L);
        c2_0.intoArray(t, 6 * L);
        c2_1.intoArray(t, 7 * L);
        c2_2.intoArray(t, 8 * L);
    }

}

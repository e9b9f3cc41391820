package dev.jdiffusion.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * GroupNorm (+SiLU) and LayerNorm against double references. Outputs are O(1) values; tolerance
 * 2e-6 * (|want| + 1) (a few float ulps of the normalised value), on data with a non-zero mean.
 */
class NormTest {

    private static double[] tol(double[] want) {
        double[] t = new double[want.length];
        for (int i = 0; i < t.length; i++) t[i] = 2e-6 * (Math.abs(want[i]) + 1);
        return t;
    }

    @Test
    void groupNorm() {
        Random r = new Random(6);
        int[][] shapes = {{1, 4, 1, 2}, {2, 6, 7, 3}, {1, 32, 33, 32}, {2, 64, 17, 32}, {1, 8, 1000, 1}, {1, 3, 5, 3}};
        for (int[] s : shapes)
            for (boolean silu : new boolean[] {false, true})
                for (boolean affine : new boolean[] {false, true}) {
                    int n = s[0], c = s[1], hw = s[2], g = s[3];
                    float[] x = Ref.randn(r, n * c * hw, 3);
                    for (int i = 0; i < x.length; i++) x[i] += 5f;
                    float[] gamma = affine ? Ref.rand(r, c) : null, beta = affine ? Ref.rand(r, c) : null;
                    double[] want = Ref.groupNorm(x, n, c, hw, g, gamma, beta, 1e-5, silu);
                    float[] y = new float[x.length];
                    GroupNorm.forward(x, n, c, hw, g, gamma, beta, 1e-5f, silu, y);
                    Ref.check("groupnorm " + java.util.Arrays.toString(s) + " silu=" + silu + " affine=" + affine, want, tol(want), y, 0);
                    GroupNorm.forward(x, n, c, hw, g, gamma, beta, 1e-5f, silu, x); // in place
                    Ref.check("groupnorm in place", want, tol(want), x, 0);
                }
    }

    @Test
    void layerNorm() {
        Random r = new Random(7);
        int[][] shapes = {{1, 1}, {3, 7}, {77, 768}, {5, 320}, {2, 1283}, {33, 17}};
        for (int[] s : shapes)
            for (boolean affine : new boolean[] {false, true}) {
                int rows = s[0], dim = s[1];
                float[] x = Ref.randn(r, rows * dim, 2);
                for (int i = 0; i < x.length; i++) x[i] -= 3f;
                float[] gamma = affine ? Ref.rand(r, dim) : null, beta = affine ? Ref.rand(r, dim) : null;
                double[] want = Ref.layerNorm(x, rows, dim, gamma, beta, 1e-5);
                float[] y = new float[x.length];
                LayerNorm.forward(x, rows, dim, gamma, beta, 1e-5f, y);
                Ref.check("layernorm " + rows + "x" + dim + " affine=" + affine, want, tol(want), y, 0);
                LayerNorm.forward(x, rows, dim, gamma, beta, 1e-5f, x);
                Ref.check("layernorm in place", want, tol(want), x, 0);
            }
    }
}

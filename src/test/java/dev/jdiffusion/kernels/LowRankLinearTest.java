package dev.jdiffusion.kernels;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.LoraTargets;
import dev.jdiffusion.weights.LowRank;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A linear layer with LoRA terms, folded into the packed panels (many rows) or added in the layer (few rows), equals W + s up@down. */
class LowRankLinearTest {

    @Test void bothFormsMatchTheMergedWeight() {
        int in = 96, out = 80, rank = 4;
        Random r = new Random(3);
        float[] w = rand(r, out * in), up = rand(r, out * rank), down = rand(r, rank * in), bias = rand(r, out);
        float s = -0.7f;
        TensorView v = new TensorView("w", "test", DType.F32, new long[]{out, in}, MemorySegment.ofArray(w));
        LoraTargets t = new LoraTargets(new TensorSource() {
            @Override public Set<String> names() { return Set.of("w"); }
            @Override public TensorView find(String n) { return n.equals("w") ? v : null; }
            @Override public String description() { return "test"; }
        });
        Matrix m = Matrix.of(t.find("w"));
        t.apply(Map.of("w", LowRank.of(out, in, List.of(new LowRank.Term(s, rank, up, down)))));
        float[] merged = w.clone();
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double acc = 0;
                for (int k = 0; k < rank; k++) acc += (double) up[o * rank + k] * down[k * in + i];
                merged[o * in + i] += (float) (s * acc);
            }
        for (int rows : new int[]{3, 40, 300}) {
            float[] x = rand(r, rows * in), y = new float[rows * out], ref = new float[rows * out];
            Gemm.linear(x, 0, rows, m, bias, y, 0);
            Gemm.linear(x, 0, rows, Matrix.of(merged, out, in), bias, ref, 0);
            double max = 0;
            for (int i = 0; i < y.length; i++) max = Math.max(max, Math.abs(y[i] - ref[i]));
            assertTrue(max < 1e-4, rows + " rows (" + (Gemm.lowRankInLayer(rows, in, out) ? "in the layer" : "folded") + "): max error " + max);
        }
        assertTrue(Gemm.lowRankInLayer(3, in, out));
        assertFalse(Gemm.lowRankInLayer(300, in, out));
    }

    private static float[] rand(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}

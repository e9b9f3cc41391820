package dev.jdiffusion.model.clip;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A quick (not a unit test) timing of the text encoder at SD 1.5's size (ViT-L/14 text tower: 12 layers,
 * hidden 768, MLP 3072, 12 heads) with random weights, batch 2 x 77 tokens as one guided prompt needs:
 * {@code java -cp ... dev.jdiffusion.model.clip.ClipTextEncoderSpeed [layers] [hidden]}.
 */
public final class ClipTextEncoderSpeed {
    public static void main(String[] args) {
        int layers = args.length > 0 ? Integer.parseInt(args[0]) : 12, d = args.length > 1 ? Integer.parseInt(args[1]) : 768, f = 4 * d;
        Map<String, TensorView> m = new LinkedHashMap<>();
        Arena arena = Arena.ofShared();
        Random rnd = new Random(1);
        add(m, arena, rnd, "text_model.embeddings.token_embedding.weight", 49408, d);
        add(m, arena, rnd, "text_model.embeddings.position_embedding.weight", 77, d);
        for (int i = 0; i < layers; i++) {
            String l = "text_model.encoder.layers." + i + ".";
            for (String n : new String[]{"layer_norm1", "layer_norm2"}) {
                add(m, arena, rnd, l + n + ".weight", d);
                add(m, arena, rnd, l + n + ".bias", d);
            }
            for (String p : new String[]{"q_proj", "k_proj", "v_proj", "out_proj"}) {
                add(m, arena, rnd, l + "self_attn." + p + ".weight", d, d);
                add(m, arena, rnd, l + "self_attn." + p + ".bias", d);
            }
            add(m, arena, rnd, l + "mlp.fc1.weight", f, d);
            add(m, arena, rnd, l + "mlp.fc1.bias", f);
            add(m, arena, rnd, l + "mlp.fc2.weight", d, f);
            add(m, arena, rnd, l + "mlp.fc2.bias", d);
        }
        add(m, arena, rnd, "text_model.final_layer_norm.weight", d);
        add(m, arena, rnd, "text_model.final_layer_norm.bias", d);
        TensorSource src = new TensorSource() {
            public Set<String> names() { return m.keySet(); }
            public TensorView find(String name) { return m.get(name); }
            public String description() { return "random"; }
        };
        ClipTextEncoder enc = ClipTextEncoder.load(src, null);
        int[][] ids = new int[2][77];
        for (int b = 0; b < 2; b++) for (int i = 0; i < 77; i++) ids[b][i] = i < 20 ? 1000 + 37 * i + b : 49407;
        for (int r = 0; r < 4; r++) {
            long s = System.nanoTime();
            enc.encode(ids, 1);
            System.out.printf("encode 2x77, %d layers, hidden %d: %.1f ms%n", layers, d, (System.nanoTime() - s) / 1e6);
        }
    }

    private static void add(Map<String, TensorView> m, Arena arena, Random rnd, String name, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        MemorySegment seg = arena.allocate(n * 4, 64);
        ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        boolean norm = name.contains("norm") && name.endsWith(".weight");
        for (long i = 0; i < n; i++) seg.setAtIndex(le, i, norm ? 1f : (float) (rnd.nextGaussian() * 0.02));
        m.put(name, new TensorView(name, "random", DType.F32, shape, seg));
    }
}

package dev.jdiffusion.weights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Presents an OpenCLIP text transformer (SDXL single files: {@code conditioner.embedders.1.model.*}) under
 * transformers' {@code CLIPTextModelWithProjection} names, as diffusers' {@code convert_open_clip_checkpoint} does.
 * Keys arrive with the component prefix stripped.
 * <pre>
 * token_embedding.weight                      -> text_model.embeddings.token_embedding.weight
 * positional_embedding                        -> text_model.embeddings.position_embedding.weight
 * transformer.resblocks.i.ln_1 / ln_2         -> text_model.encoder.layers.i.layer_norm1 / layer_norm2
 * transformer.resblocks.i.attn.in_proj_weight -> ...self_attn.q_proj / k_proj / v_proj .weight  (rows 0..d-1, d..2d-1, 2d..3d-1)
 * transformer.resblocks.i.attn.in_proj_bias   -> ...self_attn.q_proj / k_proj / v_proj .bias
 * transformer.resblocks.i.attn.out_proj       -> ...self_attn.out_proj
 * transformer.resblocks.i.mlp.c_fc / c_proj   -> ...mlp.fc1 / fc2
 * ln_final                                    -> text_model.final_layer_norm
 * text_projection [d, projection_dim]         -> text_projection.weight [projection_dim, d] (transposed)
 * logit_scale                                 -> dropped (not part of the text model)
 * </pre>
 * The q/k/v tensors are row slices of the mapped fused tensor (no copy); only the small text projection is copied
 * (transposed, in its own dtype). A key that fits none of these keeps its name prefixed {@code original:}, so the
 * encoder's loader reports it as unexpected instead of dropping it silently.
 */
public final class OpenClipKeys {
    private OpenClipKeys() {}

    private static final Pattern BLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.(.+)");
    private static final Map<String, String> BLOCK_PARTS = Map.of(
            "ln_1", "layer_norm1", "ln_2", "layer_norm2", "attn.out_proj", "self_attn.out_proj",
            "mlp.c_fc", "mlp.fc1", "mlp.c_proj", "mlp.fc2");
    private static final String[] QKV = {"q_proj", "k_proj", "v_proj"};
    private static final String L = "text_model.encoder.layers.";

    /**
     * The transformers names of an OpenCLIP key: one name, three for a fused in_proj (q, k, v), none for a key that
     * is not part of the text model; {@code original:KEY} for a key the layout does not know.
     *
     * @param key an OpenCLIP key with the component prefix stripped
     * @return the names (never null; empty for {@code logit_scale})
     */
    public static String[] toDiffusers(String key) {
        switch (key) {
            case "token_embedding.weight": return new String[]{"text_model.embeddings.token_embedding.weight"};
            case "positional_embedding": return new String[]{"text_model.embeddings.position_embedding.weight"};
            case "ln_final.weight", "ln_final.bias": return new String[]{"text_model.final_layer_norm." + key.substring("ln_final.".length())};
            case "text_projection": return new String[]{"text_projection.weight"};
            case "logit_scale": return new String[0];
            default: break;
        }
        Matcher m = BLOCK.matcher(key);
        if (m.matches()) {
            String i = m.group(1), rest = m.group(2);
            if (rest.equals("attn.in_proj_weight") || rest.equals("attn.in_proj_bias")) {
                String param = rest.endsWith("weight") ? "weight" : "bias";
                String[] out = new String[3];
                for (int j = 0; j < 3; j++) out[j] = L + i + ".self_attn." + QKV[j] + "." + param;
                return out;
            }
            int dot = rest.lastIndexOf('.');
            String part = dot < 0 ? null : BLOCK_PARTS.get(rest.substring(0, dot));
            String param = dot < 0 ? "" : rest.substring(dot + 1);
            if (part != null && (param.equals("weight") || param.equals("bias"))) return new String[]{L + i + "." + part + "." + param};
        }
        return new String[]{"original:" + key};
    }

    /**
     * The tensors of {@code file} under {@code prefix} as transformers names them; the view does not own the file.
     *
     * @param file the single file's tensors
     * @param prefix the text encoder's prefix in the file (kept tensors start with it; it is stripped before mapping)
     * @param description the view's description, for error messages
     * @return the view: a fused in_proj tensor appears as three row slices (q, k, v), {@code text_projection}
     *     transposed (a heap copy)
     * @throws ModelFormatException when two keys map to the same name
     */
    public static TensorSource diffusersView(TensorSource file, String prefix, String description) {
        Map<String, Part> parts = new LinkedHashMap<>();
        for (String n : file.names()) {
            if (!n.startsWith(prefix)) continue;
            String key = n.substring(prefix.length());
            String[] names = toDiffusers(key);
            for (int j = 0; j < names.length; j++) {
                Part p = new Part(n, names.length == 3 ? j : -1, key.equals("text_projection"));
                Part prev = parts.putIfAbsent(names[j], p);
                if (prev != null) throw new ModelFormatException(description + ": tensors " + prev.original + " and " + n + " both map to " + names[j]);
            }
        }
        return new View(file, description, parts);
    }

    /** Where a mapped tensor comes from: the original tensor, which third of its rows (or -1), and whether transposed. */
    private record Part(String original, int third, boolean transpose) {}

    private static final class View implements TensorSource {
        private final TensorSource base;
        private final String description;
        private final Map<String, Part> parts;
        private final Map<String, TensorView> transposed = new ConcurrentHashMap<>();

        View(TensorSource base, String description, Map<String, Part> parts) {
            this.base = base;
            this.description = description;
            this.parts = parts;
        }

        @Override public Set<String> names() { return Collections.unmodifiableSet(parts.keySet()); }

        @Override public TensorView find(String name) {
            Part p = parts.get(name);
            if (p == null) return null;
            TensorView t = base.find(p.original);
            if (p.third >= 0) return rows(t, p.third, name);
            if (p.transpose) return transposed.computeIfAbsent(name, n -> transpose(t, n));
            return t.renamed(name);
        }

        private TensorView rows(TensorView t, int third, String name) {
            if (t.rank() < 1 || t.dim(0) % 3 != 0)
                throw new ModelFormatException(description + ": " + t.name() + " must have 3 x hidden rows (fused q, k, v), has shape "
                        + java.util.Arrays.toString(t.shape()));
            long[] shape = t.shape();
            shape[0] /= 3;
            long bytes = t.segment().byteSize() / 3;
            return new TensorView(name, t.source(), t.dtype(), shape, t.segment().asSlice(third * bytes, bytes));
        }

        private TensorView transpose(TensorView t, String name) {
            if (t.rank() != 2) throw new ModelFormatException(description + ": " + t.name() + " must be 2-D [hidden, projection_dim], is " + t);
            int rows = Math.toIntExact(t.dim(0)), cols = Math.toIntExact(t.dim(1)), e = t.dtype().bytes();
            byte[] in = t.segment().toArray(ValueLayout.JAVA_BYTE), out = new byte[in.length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) System.arraycopy(in, (r * cols + c) * e, out, (c * rows + r) * e, e);
            return new TensorView(name, t.source(), t.dtype(), new long[]{cols, rows}, MemorySegment.ofArray(out));
        }

        @Override public String description() { return description; }

        @Override public Map<String, String> metadata() { return base.metadata(); }
    }
}

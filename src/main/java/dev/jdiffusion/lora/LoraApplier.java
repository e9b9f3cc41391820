package dev.jdiffusion.lora;

import dev.jdiffusion.weights.LoraTargets;
import dev.jdiffusion.weights.LowRank;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.TensorView;
import dev.jdiffusion.weights.UnetKeys;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Resolves LoRA modules against a model's own module names and sets their low-rank terms on the model's weights
 * ({@link LoraTargets}): {@code W' = W + weight · (alpha / rank) · (up @ down)}, files applied one after the other.
 *
 * <p>Names are resolved generically from the weights the model has: a dotted (diffusers) module name must be one of
 * them; a flat kohya name matches the one module whose name, dots as underscores, equals it (which settles the
 * ambiguous underscores of {@code to_out_0} or {@code ff_net_0_proj}), in diffusers' layout or, for the U-Net, in the
 * original LDM / SGM layout ({@code input_blocks_4_1_...}, numbered with the model's layers per block). An unknown
 * module, a shape that does not fit its weight, or a part the model lacks (a second text encoder on SD 1.x) is one
 * error naming the key; every file is resolved before anything is set, so nothing is applied half-way.
 */
public final class LoraApplier {
    /** A LoRA file and the user's weight for it. */
    public record Weighted(LoraFile file, float weight) {}

    private final Map<LoraFile.Component, LoraTargets> targets = new EnumMap<>(LoraFile.Component.class);
    private final Map<LoraFile.Component, Map<String, String>> flat = new EnumMap<>(LoraFile.Component.class);

    /**
     * @param unet           the U-Net's weights
     * @param layersPerBlock the U-Net's layers per block (for original-layout names)
     * @param textEncoder    the (first) text encoder's weights, or null
     * @param textEncoder2   the second text encoder's weights (SDXL), or null
     */
    public LoraApplier(LoraTargets unet, int layersPerBlock, LoraTargets textEncoder, LoraTargets textEncoder2) {
        add(LoraFile.Component.UNET, unet, layersPerBlock);
        add(LoraFile.Component.TEXT_ENCODER, textEncoder, -1);
        add(LoraFile.Component.TEXT_ENCODER_2, textEncoder2, -1);
    }

    private void add(LoraFile.Component c, LoraTargets t, int layersPerBlock) {
        if (t == null) return;
        targets.put(c, t);
        Map<String, String> m = new HashMap<>();
        for (String n : t.names()) {
            if (!n.endsWith(".weight")) continue;
            String module = n.substring(0, n.length() - ".weight".length());
            putFlat(m, module.replace('.', '_'), n);
            if (layersPerBlock > 0)
                for (String o : originalNames(module, layersPerBlock))
                    if (UnetKeys.toDiffusers(o + ".weight", layersPerBlock).equals(n)) putFlat(m, o.replace('.', '_'), n);
        }
        flat.put(c, m);
    }

    /** Two modules with the same flat name make it ambiguous (marked by an empty target). */
    private static void putFlat(Map<String, String> m, String flatName, String weight) {
        String prev = m.putIfAbsent(flatName, weight);
        if (prev != null && !prev.equals(weight)) m.put(flatName, "");
    }

    /** The original-layout (LDM / SGM) names a diffusers U-Net module may have, checked by the caller. */
    static List<String> originalNames(String d, int L) {
        List<String> out = new ArrayList<>();
        String[] p = d.split("\\.");
        try {
            switch (p[0]) {
                case "time_embedding" -> {
                    if (d.equals("time_embedding.linear_1")) out.add("time_embed.0");
                    if (d.equals("time_embedding.linear_2")) out.add("time_embed.2");
                }
                case "add_embedding" -> {
                    if (d.equals("add_embedding.linear_1")) out.add("label_emb.0.0");
                    if (d.equals("add_embedding.linear_2")) out.add("label_emb.0.2");
                }
                case "conv_in" -> out.add("input_blocks.0.0");
                case "conv_out" -> out.add("out.2");
                case "down_blocks" -> {
                    int i = Integer.parseInt(p[1]), j = Integer.parseInt(p[3]);
                    String rest = tail(p, 4);
                    int k = 1 + i * (L + 1) + j;
                    switch (p[2]) {
                        case "resnets" -> addResnet(out, "input_blocks." + k + ".0", rest);
                        case "attentions" -> out.add("input_blocks." + k + ".1" + rest);
                        case "downsamplers" -> out.add("input_blocks." + (1 + i * (L + 1) + L) + ".0.op");
                        default -> { }
                    }
                }
                case "mid_block" -> {
                    String rest = tail(p, 3);
                    if (p[1].equals("attentions")) out.add("middle_block.1" + rest);
                    else if (p[1].equals("resnets")) addResnet(out, "middle_block." + (p[2].equals("0") ? 0 : 2), rest);
                }
                case "up_blocks" -> {
                    int i = Integer.parseInt(p[1]), j = Integer.parseInt(p[3]);
                    String rest = tail(p, 4);
                    switch (p[2]) {
                        case "resnets" -> addResnet(out, "output_blocks." + (i * (L + 1) + j) + ".0", rest);
                        case "attentions" -> out.add("output_blocks." + (i * (L + 1) + j) + ".1" + rest);
                        case "upsamplers" -> {
                            out.add("output_blocks." + (i * (L + 1) + L) + ".1.conv");
                            out.add("output_blocks." + (i * (L + 1) + L) + ".2.conv");
                        }
                        default -> { }
                    }
                }
                default -> { }
            }
        } catch (RuntimeException e) {
            // not a U-Net module name of the usual shape: no original name
        }
        return out;
    }

    private static String tail(String[] p, int from) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < p.length; i++) sb.append('.').append(p[i]);
        return sb.toString();
    }

    private static final Map<String, String> RESNET = Map.of(".norm1", ".in_layers.0", ".conv1", ".in_layers.2",
            ".time_emb_proj", ".emb_layers.1", ".norm2", ".out_layers.0", ".conv2", ".out_layers.3", ".conv_shortcut", ".skip_connection");

    private static void addResnet(List<String> out, String base, String rest) {
        String r = RESNET.get(rest);
        if (r != null) out.add(base + r);
    }

    /**
     * The low-rank terms of every weight, per model part, for the LoRAs in order (weight-0 files are skipped).
     *
     * @throws ModelFormatException naming the first key that does not resolve or fit
     */
    public Map<LoraFile.Component, Map<String, LowRank>> resolve(List<Weighted> loras) {
        Map<LoraFile.Component, Map<String, LowRank>> out = new EnumMap<>(LoraFile.Component.class);
        for (LoraFile.Component c : targets.keySet()) out.put(c, new LinkedHashMap<>());
        for (Weighted w : loras) {
            if (w.weight() == 0f) continue;
            LoraFile f = w.file();
            for (LoraFile.Module m : f.modules()) {
                String weightName = weightFor(f, m);
                TensorView wv = targets.get(m.component()).base().find(weightName);
                long out0 = wv.dim(0), cols = wv.numel() / Math.max(1, out0);
                int rank = m.rank();
                long downCols = m.down().length / rank;
                if (m.upShape()[0] != out0 || downCols != cols)
                    throw new ModelFormatException(f.path() + ": key " + m.key() + ": down " + Arrays.toString(m.downShape()) + " / up "
                            + Arrays.toString(m.upShape()) + " do not fit " + weightName + " " + Arrays.toString(wv.shape())
                            + " (a LoRA for another model family?)");
                float alpha = Float.isNaN(m.alpha()) ? rank : m.alpha();
                float scale = (float) ((double) w.weight() * alpha / rank);
                LowRank term = LowRank.of((int) out0, (int) cols, List.of(new LowRank.Term(scale, rank, m.up(), m.down())));
                out.get(m.component()).merge(weightName, term, LowRank::plus);
            }
        }
        return out;
    }

    /** Resolves, then sets the terms on every part at once (replacing any set before); an empty list clears them. */
    public void apply(List<Weighted> loras) {
        Map<LoraFile.Component, Map<String, LowRank>> r = resolve(loras);
        for (Map.Entry<LoraFile.Component, LoraTargets> e : targets.entrySet()) e.getValue().apply(r.get(e.getKey()));
    }

    /**
     * The name of the weight a module of file f modifies, in its model part.
     *
     * @throws ModelFormatException naming the key when the model has no such part or module
     */
    public String weightFor(LoraFile f, LoraFile.Module m) {
        LoraTargets t = targets.get(m.component());
        if (t == null)
            throw new ModelFormatException(f.path() + ": key " + m.key() + " targets " + partName(m.component())
                    + ", which this model does not have (a LoRA for another model family?)");
        String n;
        if (m.flat()) n = flat.get(m.component()).get(m.name());
        else n = t.base().find(m.name() + ".weight") != null ? m.name() + ".weight" : null;
        if (n == null || n.isEmpty())
            throw new ModelFormatException(f.path() + ": key " + m.key() + ": " + (n == null ? "no module " : "ambiguous module ")
                    + m.name() + " in this model's " + partName(m.component()) + " (a LoRA for another model family?)");
        return n;
    }

    private static String partName(LoraFile.Component c) {
        return switch (c) {
            case UNET -> "U-Net";
            case TEXT_ENCODER -> "text encoder";
            case TEXT_ENCODER_2 -> "second text encoder";
        };
    }
}

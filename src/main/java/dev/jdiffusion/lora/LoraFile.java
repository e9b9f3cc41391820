package dev.jdiffusion.lora;

import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A LoRA file read into memory (its tensors as float32 on the heap; the file is closed afterwards), grouped into
 * modules: one down/up pair and an optional alpha per target weight. Formats, recognised per key:
 * <ul>
 * <li>kohya-ss / A1111 (and LoCon / LyCORIS "lora" modules, as LCM-LoRA files have):
 *     {@code lora_unet_<flat name>.lora_down.weight}, {@code .lora_up.weight}, {@code .alpha}; text encoders
 *     {@code lora_te_} (SDXL: {@code lora_te1_}, {@code lora_te2_}). The flat name is the module's name with dots
 *     as underscores, in diffusers' or in the original (LDM / SGM) layout;</li>
 * <li>diffusers / PEFT: {@code unet.<module>.lora_A.weight} / {@code lora_B.weight} ({@code text_encoder.},
 *     {@code text_encoder_2.}), optional {@code .alpha};</li>
 * <li>older diffusers: {@code unet.<module>.lora.down.weight} / {@code lora.up.weight},
 *     {@code text_encoder.<module>.lora_linear_layer.down.weight} / {@code up.weight}, and attention processors
 *     ({@code ...attn1.processor.to_q_lora.down.weight}).</li>
 * </ul>
 * Any other key is an error naming it. Pickle files ({@code .pt}, {@code .bin}, ...) are refused.
 */
public final class LoraFile {
    /** Which model part a module targets. */
    public enum Component { UNET, TEXT_ENCODER, TEXT_ENCODER_2 }

    /**
     * One target: the module's name as the file writes it (flat for kohya files, dotted for diffusers files, without
     * the component prefix), its down [rank, ...] and up [out, rank, ...] tensors and alpha (NaN when absent).
     */
    public record Module(String key, Component component, String name, boolean flat, float[] down, long[] downShape,
                         float[] up, long[] upShape, float alpha) {
        public int rank() { return (int) downShape[0]; }
    }

    private final Path path;
    private final List<Module> modules;
    private final Map<String, String> metadata;

    private LoraFile(Path path, List<Module> modules, Map<String, String> metadata) {
        this.path = path;
        this.modules = modules;
        this.metadata = metadata;
    }

    public Path path() { return path; }
    public List<Module> modules() { return modules; }
    public Map<String, String> metadata() { return metadata; }

    /** The file's name without .safetensors (A1111's LoRA name). */
    public String name() {
        String n = path.getFileName().toString();
        return n.toLowerCase(Locale.ROOT).endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    /** Heap bytes of the modules' tensors. */
    public long bytes() {
        long b = 0;
        for (Module m : modules) b += 4L * (m.down.length + m.up.length);
        return b;
    }

    private static final class Parts {
        String key;
        TensorView down, up, alpha;
    }

    /**
     * Reads a LoRA file.
     *
     * @throws ModelFormatException a pickle file, a key that is not part of a LoRA module, a module without its down
     *                              or up tensor, or ranks that do not agree (each naming the key)
     */
    public static LoraFile open(Path path) {
        if (!Files.isRegularFile(path)) throw new ModelFormatException(path + ": LoRA file not found");
        Checkpoint.refusePickle(path);
        try (SafetensorsFile f = SafetensorsFile.open(path)) {
            Map<String, Parts> byModule = new LinkedHashMap<>();
            for (String k : f.names()) {
                String[] mr = split(k);
                if (mr == null)
                    throw new ModelFormatException(path + ": key " + k + " is not a LoRA tensor (expected lora_down/lora_up/alpha, "
                            + "lora_A/lora_B or lora.down/lora.up; LyCORIS LoHa/LoKr/DoRA are not supported)");
                Parts p = byModule.computeIfAbsent(mr[0], x -> new Parts());
                if (p.key == null) p.key = k;
                TensorView t = f.get(k);
                switch (mr[1]) {
                    case "down" -> p.down = t;
                    case "up" -> p.up = t;
                    default -> p.alpha = t;
                }
            }
            if (byModule.isEmpty()) throw new ModelFormatException(path + ": no tensors: not a LoRA file");
            List<Module> out = new ArrayList<>();
            for (Map.Entry<String, Parts> e : byModule.entrySet()) {
                Parts p = e.getValue();
                if (p.down == null || p.up == null)
                    throw new ModelFormatException(path + ": key " + p.key + ": module " + e.getKey() + " has no " + (p.down == null ? "down" : "up") + " tensor");
                if (!p.down.dtype().isFloating() || !p.up.dtype().isFloating())
                    throw new ModelFormatException(path + ": key " + p.key + ": LoRA tensors must be floating point");
                long rank = p.down.rank() >= 2 ? p.down.dim(0) : -1;
                if (rank < 1 || p.up.rank() < 2 || p.up.dim(1) != rank || p.up.numel() != p.up.dim(0) * rank)
                    throw new ModelFormatException(path + ": key " + p.key + ": down " + java.util.Arrays.toString(p.down.shape()) + " and up "
                            + java.util.Arrays.toString(p.up.shape()) + " are not a low-rank pair");
                float alpha = Float.NaN;
                if (p.alpha != null) {
                    if (p.alpha.numel() != 1) throw new ModelFormatException(path + ": key " + e.getKey() + ".alpha is not a scalar");
                    alpha = p.alpha.getFloat(0);
                }
                Object[] target = target(e.getKey());
                if (target == null)
                    throw new ModelFormatException(path + ": key " + p.key + ": no model part named (expected lora_unet_, lora_te_, "
                            + "lora_te1_, lora_te2_, unet., text_encoder. or text_encoder_2.)");
                out.add(new Module(p.key, (Component) target[0], (String) target[1], (Boolean) target[2], p.down.toFloatArray(),
                        p.down.shape(), p.up.toFloatArray(), p.up.shape(), alpha));
            }
            return new LoraFile(path, Collections.unmodifiableList(out), f.metadata());
        }
    }

    /** [module, role (down/up/alpha)] of a key, or null when it is not a LoRA tensor. */
    static String[] split(String k) {
        String[][] suffixes = {
                {".lora_down.weight", "down"}, {".lora_up.weight", "up"}, {".alpha", "alpha"},
                {".lora_A.weight", "down"}, {".lora_B.weight", "up"},
                {".lora.down.weight", "down"}, {".lora.up.weight", "up"},
                {".lora_linear_layer.down.weight", "down"}, {".lora_linear_layer.up.weight", "up"}};
        for (String[] s : suffixes)
            if (k.endsWith(s[0]) && k.length() > s[0].length()) return new String[]{k.substring(0, k.length() - s[0].length()), s[1]};
        // diffusers' attention processors: <attn>.processor.to_q_lora.down.weight -> <attn>.to_q
        int p = k.indexOf(".processor.");
        if (p > 0) {
            String rest = k.substring(p + ".processor.".length());
            for (String proj : new String[]{"to_q", "to_k", "to_v", "to_out"})
                for (String role : new String[]{"down", "up"})
                    if (rest.equals(proj + "_lora." + role + ".weight"))
                        return new String[]{k.substring(0, p) + "." + (proj.equals("to_out") ? "to_out.0" : proj), role};
        }
        return null;
    }

    /** [component, name, flat] of a module key, or null. */
    private static Object[] target(String module) {
        String[][] flat = {{"lora_unet_", "UNET"}, {"lora_te1_", "TEXT_ENCODER"}, {"lora_te2_", "TEXT_ENCODER_2"}, {"lora_te_", "TEXT_ENCODER"}};
        for (String[] f : flat)
            if (module.startsWith(f[0])) return new Object[]{Component.valueOf(f[1]), module.substring(f[0].length()), true};
        String[][] dotted = {{"unet.", "UNET"}, {"text_encoder_2.", "TEXT_ENCODER_2"}, {"text_encoder.", "TEXT_ENCODER"}};
        for (String[] d : dotted)
            if (module.startsWith(d[0])) return new Object[]{Component.valueOf(d[1]), module.substring(d[0].length()), false};
        return null;
    }

    /** True when the file looks like an LCM-LoRA (its metadata or name says so). */
    public boolean isLcm() {
        String n = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.contains("lcm")) return true;
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            String v = (e.getKey() + "=" + e.getValue()).toLowerCase(Locale.ROOT);
            if (v.contains("latent-consistency") || v.contains("lcm-lora") || v.contains("lcm_lora")) return true;
        }
        return false;
    }
}

package dev.jdiffusion.hub;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which files of a diffusers repository the engine needs: {@code model_index.json}, the configs of unet, vae
 * and text_encoder, the scheduler config, the tokenizer files, and the {@code .safetensors} weights of unet,
 * vae and text_encoder — the {@code fp16} variant where the repository has one, else the plain files
 * (sharded sets with their index included). Pickle files ({@code .bin}, {@code .ckpt}, ...) are never chosen.
 */
public final class FileSelection {
    private FileSelection() {}

    /** Components whose weights are downloaded. */
    public static final List<String> WEIGHT_COMPONENTS = List.of("unet", "vae", "text_encoder");

    private static final String BASE = "(diffusion_pytorch_model|model)";
    private static final String SHARD = "(-\\d{5}-of-\\d{5})";
    private static final Pattern PLAIN = Pattern.compile(BASE + SHARD + "?\\.safetensors|" + BASE + "\\.safetensors\\.index\\.json");
    private static final Pattern FP16 = Pattern.compile(BASE + "\\.fp16" + SHARD + "?\\.safetensors|" + BASE + SHARD + "\\.fp16\\.safetensors|"
            + BASE + "\\.safetensors\\.index\\.fp16\\.json|" + BASE + "\\.fp16\\.safetensors\\.index\\.json");
    private static final Pattern TOKENIZER = Pattern.compile("(vocab\\.json|merges\\.txt|tokenizer_config\\.json|special_tokens_map\\.json|added_tokens\\.json)");

    /** The files to fetch, in listing order. Unsafe paths (absolute, "..", backslashes) are never selected. */
    public static List<HubFile> select(List<HubFile> files) {
        List<HubFile> out = new ArrayList<>();
        for (HubFile f : files) {
            if (!isSafePath(f.path())) continue;
            String p = f.path();
            String dir = p.contains("/") ? p.substring(0, p.lastIndexOf('/')) : "";
            String name = p.substring(p.lastIndexOf('/') + 1);
            boolean keep = switch (dir) {
                case "" -> name.equals("model_index.json");
                case "scheduler" -> name.equals("scheduler_config.json");
                case "tokenizer" -> TOKENIZER.matcher(name).matches();
                case "unet", "vae", "text_encoder" -> name.equals("config.json") || isWanted(files, dir, name);
                default -> false;
            };
            if (keep) out.add(f);
        }
        return out;
    }

    private static boolean isWanted(List<HubFile> files, String dir, String name) {
        boolean hasFp16 = files.stream().anyMatch(f -> f.path().startsWith(dir + "/")
                && FP16.matcher(f.path().substring(dir.length() + 1)).matches() && f.path().endsWith(".safetensors"));
        return (hasFp16 ? FP16 : PLAIN).matcher(name).matches();
    }

    /** A relative path of plain segments: no leading '/', no '..' or '.' segments, no backslash or NUL. */
    public static boolean isSafePath(String p) {
        if (p == null || p.isEmpty() || p.startsWith("/") || p.contains("\\") || p.indexOf('\0') >= 0 || p.contains(":")) return false;
        for (String seg : p.split("/", -1))
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) return false;
        return true;
    }
}

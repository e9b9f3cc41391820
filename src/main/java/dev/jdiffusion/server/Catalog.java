package dev.jdiffusion.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The models {@code sd_model_checkpoint} can name (the start model plus every diffusers folder and
 * {@code .safetensors} checkpoint directly in {@code --models-dir}) and the LoRA files in {@code --lora-dir}.
 * Folders are read on each call, so files added while the server runs appear.
 */
final class Catalog {
    /** A model the server can load: {@code title} as A1111 shows it (file name), {@code name} without extension. */
    record Entry(String title, String name, Path path) {}

    private final Path startModel, modelsDir, loraDir;

    Catalog(Path startModel, Path modelsDir, Path loraDir) {
        this.startModel = startModel;
        this.modelsDir = modelsDir;
        this.loraDir = loraDir;
    }

    static Entry entry(Path p) {
        String file = p.getFileName() == null ? p.toString() : p.getFileName().toString();
        String name = file.toLowerCase(Locale.ROOT).endsWith(".safetensors") ? file.substring(0, file.length() - ".safetensors".length()) : file;
        return new Entry(file, name, p);
    }

    /** Every model, the start model first. */
    List<Entry> models() {
        Map<Path, Entry> out = new LinkedHashMap<>();
        out.put(norm(startModel), entry(startModel));
        for (Path p : list(modelsDir)) {
            boolean folder = Files.isDirectory(p) && (Files.isRegularFile(p.resolve("model_index.json")) || Files.isDirectory(p.resolve("unet")));
            if (folder || isSafetensors(p)) out.putIfAbsent(norm(p), entry(p));
        }
        return new ArrayList<>(out.values());
    }

    /**
     * The model a client names: its title, its name, or A1111's "title [hash]" form.
     *
     * @throws HttpError 404 naming the known models
     */
    Entry find(String requested) {
        String want = requested.strip().replaceFirst("\\s*\\[[0-9a-fA-F]*]$", "");
        List<Entry> all = models();
        for (Entry e : all) if (e.title().equals(want) || e.name().equals(want)) return e;
        for (Entry e : all) if (e.title().equalsIgnoreCase(want) || e.name().equalsIgnoreCase(want)) return e;
        throw new HttpError(404, "ModelNotFound", "model '" + requested + "' not found (known: "
                + String.join(", ", all.stream().map(Entry::title).toList()) + "; more with --models-dir)");
    }

    /** LoRA files by name (file name without .safetensors). */
    Map<String, Path> loras() {
        Map<String, Path> out = new LinkedHashMap<>();
        for (Path p : list(loraDir)) if (isSafetensors(p)) out.put(entry(p).name(), p);
        return out;
    }

    private static boolean isSafetensors(Path p) {
        return Files.isRegularFile(p) && p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors");
    }

    private static Path norm(Path p) { return p.toAbsolutePath().normalize(); }

    private static List<Path> list(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}

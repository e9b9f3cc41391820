package dev.jdiffusion.pipeline;

import dev.jdiffusion.lora.LoraApplier;
import dev.jdiffusion.lora.LoraFile;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which LoRAs a request runs with: the model's own ({@link ModelOptions#withLora}), then the prompt's A1111 tags
 * {@code <lora:NAME:WEIGHT>} (NAME.safetensors in the LoRA folder; the tags are removed from the text before it is
 * encoded, as A1111 does), then the request's ({@link GenerationRequest.Builder#lora}). Files are read once and
 * kept (a few, most recently used), so switching LoRAs between requests reads no model weights again.
 */
final class LoraSelection {
    /** A1111's tag: {@code <lora:NAME>}, {@code <lora:NAME:WEIGHT>} (further fields, e.g. a separate text-encoder weight, are ignored). */
    static final Pattern TAG = Pattern.compile("<lora:([^:>]+)(?::([^:>]*))?(?::[^>]*)?>");
    private static final int CACHED_FILES = 8;

    /** The prompt without tags, the LoRAs in order, and whether one is an LCM-LoRA. */
    record Selection(String prompt, List<LoraApplier.Weighted> loras, boolean lcm) {}

    private final ModelOptions.Adapters adapters;
    private final Map<Path, LoraFile> files = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<LoraFile, String> hashes = new java.util.IdentityHashMap<>();

    LoraSelection(ModelOptions.Adapters adapters) { this.adapters = adapters; }

    /** The request's LoRAs; reads files not read before. Throws IllegalArgumentException / ModelFormatException naming the file or tag. */
    synchronized Selection select(GenerationRequest req) {
        List<LoraRef> refs = new ArrayList<>(adapters.loras());
        StringBuilder text = new StringBuilder();
        Matcher m = TAG.matcher(req.prompt());
        int last = 0;
        while (m.find()) {
            text.append(req.prompt(), last, m.start());
            last = m.end();
            String name = m.group(1).strip();
            float w = 1f;
            if (m.group(2) != null && !m.group(2).isBlank()) {
                try {
                    w = Float.parseFloat(m.group(2).strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("prompt tag " + m.group() + ": weight '" + m.group(2) + "' is not a number");
                }
            }
            if (adapters.loraDir() == null)
                throw new IllegalArgumentException("prompt tag " + m.group() + " names a LoRA, but no LoRA folder is set (--lora-dir DIR)");
            Path f = adapters.loraDir().resolve(name.endsWith(".safetensors") ? name : name + ".safetensors");
            if (!Files.isRegularFile(f))
                throw new IllegalArgumentException("prompt tag " + m.group() + ": no " + f.getFileName() + " in the LoRA folder " + adapters.loraDir() + " (--lora-dir)");
            refs.add(new LoraRef(f, w));
        }
        text.append(req.prompt().substring(last));
        refs.addAll(req.loras());
        List<LoraApplier.Weighted> out = new ArrayList<>();
        boolean lcm = false;
        for (LoraRef r : refs) {
            LoraFile f = file(r.file());
            out.add(new LoraApplier.Weighted(f, r.weight()));
            lcm |= r.weight() != 0f && f.isLcm();
        }
        String prompt = last == 0 ? req.prompt() : text.toString().replaceAll(" {2,}", " ").strip();
        return new Selection(prompt, List.copyOf(out), lcm);
    }

    private LoraFile file(Path p) {
        Path key = p.toAbsolutePath().normalize();
        LoraFile f = files.get(key);
        if (f == null) {
            f = LoraFile.open(p);
            files.put(key, f);
            if (files.size() > CACHED_FILES) {
                LoraFile old = files.remove(files.keySet().iterator().next());
                hashes.remove(old);
            }
        }
        return f;
    }

    /** A1111's "Lora hashes" value: {@code name: hash, ...} with the first 12 hex digits of each file's SHA-256. */
    synchronized String hashes(List<LoraApplier.Weighted> loras) {
        StringBuilder sb = new StringBuilder();
        for (LoraApplier.Weighted w : loras) {
            String h = hashes.computeIfAbsent(w.file(), f -> sha256(f.path()));
            if (h == null) continue;
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(w.file().name()).append(": ").append(h, 0, 12);
        }
        return sb.toString();
    }

    private static String sha256(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            return null; // the file went away after it was read: no hash in the parameters
        }
    }
}

package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A Stable Diffusion model as users download it: a diffusers folder ({@code model_index.json}, {@code unet/},
 * {@code vae/}, {@code text_encoder/}, {@code tokenizer/}, {@code scheduler/}) or one original-layout
 * {@code .safetensors} file ({@code model.diffusion_model.*}, {@code first_stage_model.*},
 * {@code cond_stage_model.*}; SDXL's SGM files {@code conditioner.embedders.0.transformer.*} and
 * {@code conditioner.embedders.1.model.*} for the two text encoders). Either way each component's tensors are
 * handed out under diffusers' names.
 */
public final class Checkpoint implements AutoCloseable {
    /** How the checkpoint is laid out on disk. */
    public enum Layout {
        /** A diffusers folder: one subfolder per component. */
        DIFFUSERS,
        /** One original-layout {@code .safetensors} file holding every component under its prefix. */
        SINGLE_FILE,
        /** One component on its own (see {@link #openComponent}): a component folder or a component file. */
        COMPONENT
    }

    /** Component names, as diffusers calls its folders. */
    public static final String UNET = "unet", VAE = "vae", TEXT_ENCODER = "text_encoder", TOKENIZER = "tokenizer", SCHEDULER = "scheduler";
    /** SDXL's second text encoder (OpenCLIP ViT-bigG with a projection) and its tokenizer. */
    public static final String TEXT_ENCODER_2 = "text_encoder_2", TOKENIZER_2 = "tokenizer_2";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private final Layout layout;
    private final SafetensorsFile single;
    private final List<TensorSource> opened = new ArrayList<>();
    private final String only;

    private Checkpoint(Path path, Layout layout, SafetensorsFile single) { this(path, layout, single, null); }

    private Checkpoint(Path path, Layout layout, SafetensorsFile single, String only) {
        this.path = path;
        this.layout = layout;
        this.single = single;
        this.only = only;
    }

    /**
     * Opens one component given on its own, as users pass a replacement VAE or text encoder: a whole model
     * (folder or single file, its component is used), a component folder ({@code config.json} + weights), or a
     * {@code .safetensors} file of the component in diffusers' or the original naming (with or without the
     * single-file prefix).
     *
     * @param path the folder or file
     * @param component the component it holds or is taken from ({@link #VAE}, {@link #TEXT_ENCODER}, ...)
     * @return the checkpoint; the caller owns it and must close it
     * @throws ModelFormatException when the path does not exist or is not a readable model, component folder or
     *     safetensors file (pickle files are refused)
     */
    public static Checkpoint openComponent(Path path, String component) {
        if (Files.isDirectory(path)) {
            if (Files.isRegularFile(path.resolve("model_index.json")) || Files.isDirectory(path.resolve(component))) return open(path);
            return new Checkpoint(path, Layout.COMPONENT, null, component);
        }
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or folder");
        Checkpoint c = open(path);
        if (c.prefixOf(component) != null) return c;
        return new Checkpoint(path, Layout.COMPONENT, c.single, component);
    }

    /**
     * Opens a diffusers folder or a single-file checkpoint. A single file is mapped and its header validated now;
     * a folder's weights are opened only when a component is asked for.
     *
     * @param path a diffusers folder ({@code model_index.json} or {@code unet/}) or a {@code .safetensors} file
     * @return the checkpoint; the caller owns it and must close it
     * @throws ModelFormatException when the path does not exist, is a folder without {@code model_index.json} or
     *     {@code unet/}, is a pickle file, or is not a valid safetensors file
     */
    public static Checkpoint open(Path path) {
        if (Files.isDirectory(path)) {
            if (!Files.isRegularFile(path.resolve("model_index.json")) && !Files.isDirectory(path.resolve(UNET)))
                throw new ModelFormatException(path + ": not a diffusers model folder (no model_index.json or unet/)");
            return new Checkpoint(path, Layout.DIFFUSERS, null);
        }
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or folder");
        refusePickle(path);
        return new Checkpoint(path, Layout.SINGLE_FILE, SafetensorsFile.open(path));
    }

    /**
     * Throws when the file is a pickle checkpoint ({@code .ckpt .pt .pth .bin .pkl}, or pickle / PyTorch-zip bytes
     * under any name): those are never loaded, since unpickling can run code.
     *
     * @param path the file to check (its first 8 bytes are read; an unreadable file counts as not a pickle)
     * @throws ModelFormatException naming the file when it is a pickle checkpoint
     */
    public static void refusePickle(Path path) {
        String n = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".ckpt") || n.endsWith(".pt") || n.endsWith(".pth") || n.endsWith(".bin") || n.endsWith(".pkl") || looksLikePickle(path))
            throw new ModelFormatException(path + ": pickle checkpoints are never loaded (they can run code); convert it to .safetensors");
    }

    /**
     * True when the file starts like a pickle (protocol 2..5) or a zip archive (PyTorch's format) and its first
     * 8 bytes are not a plausible safetensors header length.
     */
    static boolean looksLikePickle(Path f) {
        byte[] b = new byte[8];
        try (var in = Files.newInputStream(f)) {
            if (in.readNBytes(b, 0, 8) < 8) return false;
        } catch (IOException e) {
            return false;
        }
        long n = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        if (n >= 2 && n <= SafetensorsFile.MAX_HEADER_BYTES) return false;
        boolean pickle = (b[0] & 0xff) == 0x80 && b[1] >= 2 && b[1] <= 5;
        boolean zip = b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
        return pickle || zip;
    }

    /**
     * Where the checkpoint was opened from.
     *
     * @return the folder or file given to {@link #open} or {@link #openComponent}
     */
    public Path path() { return path; }

    /**
     * The whole file of a single-file checkpoint (or a single component file) under its original names.
     *
     * @return the file's tensors, owned by this checkpoint; null for a folder
     */
    public TensorSource singleFile() { return single; }

    /**
     * How the checkpoint is laid out.
     *
     * @return the layout
     */
    public Layout layout() { return layout; }

    /**
     * The folder of a component in a diffusers layout.
     *
     * @param component a component name ({@link #UNET}, ...)
     * @return the folder (which may not exist); null unless the layout is {@link Layout#DIFFUSERS}
     */
    public Path componentDir(String component) { return layout == Layout.DIFFUSERS ? path.resolve(component) : null; }

    /**
     * Whether the component is present: its weights, or for a tokenizer {@code vocab.json} and {@code merges.txt},
     * for the scheduler {@code scheduler_config.json}.
     *
     * @param component a component name ({@link #UNET}, ...)
     * @return true when present
     */
    public boolean has(String component) {
        if (layout == Layout.COMPONENT) return component.equals(only);
        if (layout == Layout.SINGLE_FILE) return prefixOf(component) != null;
        Path d = componentDir(component);
        if (!Files.isDirectory(d)) return false;
        if (component.equals(TOKENIZER) || component.equals(TOKENIZER_2)) return Files.isRegularFile(d.resolve("vocab.json")) && Files.isRegularFile(d.resolve("merges.txt"));
        if (component.equals(SCHEDULER)) return Files.isRegularFile(d.resolve("scheduler_config.json"));
        return !weightFiles(d).isEmpty();
    }

    /**
     * The component's {@code config.json} ({@code scheduler_config.json} for the scheduler).
     *
     * @param component a component name ({@link #UNET}, ...)
     * @return the parsed config, or null when there is none (a single file: infer from shapes)
     * @throws ModelFormatException naming the file when it exists but is not valid JSON
     */
    public JsonNode config(String component) {
        if (layout == Layout.SINGLE_FILE) return null;
        if (layout == Layout.COMPONENT) {
            Path f = path.resolve("config.json");
            return single == null && component.equals(only) && Files.isRegularFile(f) ? readJson(f) : null;
        }
        Path d = componentDir(component);
        Path f = d.resolve(component.equals(SCHEDULER) ? "scheduler_config.json" : "config.json");
        return Files.isRegularFile(f) ? readJson(f) : null;
    }

    /**
     * The component's tensors under diffusers' names. The checkpoint owns them: they live until {@link #close()}.
     *
     * @param component a component name ({@link #UNET}, {@link #VAE}, {@link #TEXT_ENCODER}, {@link #TEXT_ENCODER_2})
     * @return the tensors (never null; the caller must not close them)
     * @throws ModelFormatException when the checkpoint has no such component or its weights are missing or invalid
     */
    public TensorSource tensors(String component) {
        if (layout == Layout.COMPONENT) {
            if (!component.equals(only)) throw new ModelFormatException(path + ": holds a " + only + ", not a " + component);
            if (single == null) {
                TensorSource s = openWeights(path);
                synchronized (opened) {
                    opened.add(s);
                }
                return s;
            }
            return originalOrDiffusersNames(single, component);
        }
        if (layout == Layout.SINGLE_FILE) {
            String prefix = prefixOf(component);
            if (prefix == null) throw new ModelFormatException(path + ": no " + component + " tensors (" + String.join("* or ", singlePrefixes(component))
                    + "*) in this checkpoint");
            if (component.equals(TEXT_ENCODER_2)) return OpenClipKeys.diffusersView(single, prefix, path + " [" + component + "]");
            Function<String, String> map;
            UnaryOperator<TensorView> adapt;
            switch (component) {
                case UNET -> {
                    int layers = UnetKeys.layersPerBlock(single.names().stream().filter(k -> k.startsWith(prefix))
                            .map(k -> k.substring(prefix.length())).toList());
                    map = k -> UnetKeys.toDiffusers(k, layers);
                    adapt = UnetKeys::adapt;
                }
                case VAE -> { map = VaeKeys::toDiffusers; adapt = VaeKeys::adapt; }
                case TEXT_ENCODER -> { map = ClipKeys::toDiffusers; adapt = ClipKeys::adapt; }
                default -> throw new ModelFormatException(path + ": a single-file checkpoint has no " + component);
            }
            TensorSource s = single.mapped(path + " [" + component + "]",
                    k -> k.startsWith(prefix) ? map.apply(k.substring(prefix.length())) : null, adapt);
            if (s.names().isEmpty()) throw new ModelFormatException(path + ": no " + component + " tensors (" + prefix + "*) in this checkpoint");
            return s;
        }
        Path d = componentDir(component);
        if (!Files.isDirectory(d)) throw new ModelFormatException(path + ": model folder has no " + component + "/ folder");
        TensorSource s = openWeights(d);
        synchronized (opened) {
            opened.add(s);
        }
        return s;
    }

    /**
     * A standalone component file's tensors under diffusers' names: used as they are when they already are
     * diffusers names, mapped from the original layout when (nearly) all of them are original-layout keys.
     */
    private static TensorSource originalOrDiffusersNames(SafetensorsFile f, String component) {
        Function<String, String> map = switch (component) {
            case UNET -> UnetKeys::toDiffusers;
            case VAE -> VaeKeys::toDiffusers;
            case TEXT_ENCODER -> ClipKeys::toDiffusers;
            default -> k -> null;
        };
        UnaryOperator<TensorView> adapt = switch (component) {
            case UNET -> UnetKeys::adapt;
            case VAE -> VaeKeys::adapt;
            case TEXT_ENCODER -> ClipKeys::adapt;
            default -> t -> t;
        };
        long mapped = 0, changed = 0;
        for (String k : f.names()) {
            String m = map.apply(k);
            if (m != null && !m.startsWith("original:")) {
                mapped++;
                if (!m.equals(k)) changed++;
            }
        }
        if (changed > 0 && mapped * 10 >= f.names().size() * 9L)
            return f.mapped(f.path() + " [" + component + ", original names]", map, adapt);
        return f;
    }

    /**
     * The usual original-layout key prefix of a component in a single-file checkpoint (SD 1.x naming).
     *
     * @param component a component name ({@link #UNET}, ...)
     * @return the prefix, e.g. {@code "model.diffusion_model."}, or null for a component single files do not hold
     */
    public static String singlePrefix(String component) {
        List<String> p = singlePrefixes(component);
        return p.isEmpty() ? null : p.get(0);
    }

    /**
     * Every original-layout key prefix a component may have in a single file: SD 1.x/2.x files hold the text
     * encoder under {@code cond_stage_model.transformer.}, SDXL (SGM) files hold their two encoders under
     * {@code conditioner.embedders.0.transformer.} (transformers' names) and {@code conditioner.embedders.1.model.}
     * (OpenCLIP's names).
     *
     * @param component a component name ({@link #UNET}, ...)
     * @return the prefixes, most usual first; empty for a component single files do not hold
     */
    public static List<String> singlePrefixes(String component) {
        return switch (component) {
            case UNET -> List.of("model.diffusion_model.");
            case VAE -> List.of("first_stage_model.");
            case TEXT_ENCODER -> List.of("cond_stage_model.transformer.", "conditioner.embedders.0.transformer.");
            case TEXT_ENCODER_2 -> List.of("conditioner.embedders.1.model.");
            default -> List.of();
        };
    }

    /**
     * The prefix under which this single file holds the component's tensors.
     *
     * @param component a component name ({@link #UNET}, ...)
     * @return the first of {@link #singlePrefixes} that some key starts with; null when none does or there is no
     *     single file
     */
    public String prefixOf(String component) {
        if (single == null) return null;
        for (String p : singlePrefixes(component))
            for (String k : single.names()) if (k.startsWith(p)) return p;
        return null;
    }

    /**
     * Opens the weights in a component folder: a sharded index, else the fp32 file, else an fp16 variant
     * ({@code *.fp16.safetensors}), then a bf16 one, as diffusers' variants are named.
     *
     * @param dir the component folder
     * @return the weights; the caller owns them and must close them
     * @throws ModelFormatException when the folder has no safetensors weights or they are invalid
     */
    public static TensorSource openWeights(Path dir) {
        List<Path> files = weightFiles(dir);
        if (files.isEmpty()) throw new ModelFormatException(dir + ": no .safetensors weights found (pickle .bin files are never loaded)");
        Path f = files.get(0);
        if (f.getFileName().toString().endsWith(".json")) return ShardedIndex.open(f);
        return SafetensorsFile.open(f);
    }

    /** Candidate weight files of a component folder, best first. */
    static List<Path> weightFiles(Path dir) {
        List<Path> out = new ArrayList<>();
        String[] bases = {"diffusion_pytorch_model", "model"};
        for (String variant : new String[]{"", ".fp16", ".bf16"})
            for (String b : bases) {
                // diffusers names a variant's index "<base>.safetensors.index.fp16.json"; accept "<base>.fp16.safetensors.index.json" too
                Path idx = dir.resolve(variant.isEmpty() ? b + ".safetensors.index.json" : b + ".safetensors.index" + variant + ".json");
                if (Files.isRegularFile(idx)) out.add(idx);
                Path idx2 = dir.resolve(b + variant + ".safetensors.index.json");
                if (!variant.isEmpty() && Files.isRegularFile(idx2)) out.add(idx2);
                Path f = dir.resolve(b + variant + ".safetensors");
                if (Files.isRegularFile(f)) out.add(f);
            }
        return out;
    }

    /**
     * Reads a JSON file.
     *
     * @param f the file
     * @return the parsed tree
     * @throws ModelFormatException naming the file when it is missing, unreadable or malformed
     */
    public static JsonNode readJson(Path f) {
        try {
            return JSON.readTree(f.toFile());
        } catch (IOException e) {
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            throw new ModelFormatException(f + ": not valid JSON: " + m);
        }
    }

    /** Unmaps every file this checkpoint opened. */
    @Override public void close() {
        synchronized (opened) {
            for (TensorSource s : opened) s.close();
            opened.clear();
        }
        if (single != null) single.close();
    }
}

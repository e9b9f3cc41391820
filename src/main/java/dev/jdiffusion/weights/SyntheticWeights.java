package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Full-size synthetic Stable Diffusion weights for speed and memory measurements when the real weights
 * cannot be downloaded: real tensor names, shapes and file layout, random values of a sensible scale, the real
 * configs. Everything comes from this jar: each {@link Kind} names its tensor manifest (a gzipped
 * {@code {file: {tensor: {shape, dtype}}}} resource under {@code dev/jdiffusion/weights/synthetic/}) and its config
 * files; a new model family adds its manifest resource and one {@link #KINDS} entry.
 *
 * <p>Values: weights uniform with standard deviation {@code 1/sqrt(fan_in)} (fan-in = product of all but the
 * first dimension), 1-D weights (norms) 1, biases 0, {@code position_ids} 0..n-1. They depend only on the
 * seed and the tensor name. Files are streamed tensor by tensor through {@link SafetensorsWriter}: memory use
 * is a few MiB whatever the model size.
 */
public final class SyntheticWeights {
    private SyntheticWeights() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK = 1 << 16;

    /**
     * A synthetic model: its name ({@code bench --synthetic NAME}), the bundled manifests of its diffusers folder and
     * (or null) of its single file, its config files (relative path to content, {@code model_index.json} among
     * them), and a check that the configs agree with the manifest's shapes (or null).
     *
     * @param name the model's name, the key in {@link #KINDS}
     * @param diffusersManifest the resource name of the diffusers folder's manifest under {@code synthetic/}, or null
     *     when the tensors come from the configs
     * @param singleFileManifest the resource name of the single file's flat manifest, or null when there is none
     * @param configs the config files: path relative to the model folder to file content
     * @param verify called with a manifest (file to tensors) and its name for error messages; throws
     *     {@link ModelFormatException} when the configs do not match it; null for no check
     */
    public record Kind(String name, String diffusersManifest, String singleFileManifest, Map<String, String> configs,
                       java.util.function.BiConsumer<Map<String, List<TensorSpec>>, String> verify) {}

    /**
     * The synthetic models this jar can write, by name. A kind without a manifest (SDXL) has only its configs, bundled
     * as JSON files under {@code synthetic/NAME/}: its tensors are those the engine's loaders require for them
     * ({@code dev.jdiffusion.pipeline.SyntheticModels#diffusersTensors}).
     */
    public static final Map<String, Kind> KINDS = Map.of(
            "sd15", new Kind("sd15", "sd15-diffusers.json.gz", "sd15-ldm.json.gz", Sd15Configs.FILES, SyntheticWeights::verifySd15Configs),
            "sdxl", new Kind("sdxl", null, null, bundledConfigs("sdxl"), null),
            "sdxl-turbo", new Kind("sdxl-turbo", null, null, bundledConfigs("sdxl-turbo", "sdxl"), null));

    /**
     * The config files of a model bundled under {@code synthetic/FOLDER/}: model_index.json and, for each component it
     * names, {@code scheduler/scheduler_config.json}, a tokenizer's {@code special_tokens_map.json} and
     * {@code tokenizer_config.json}, or {@code NAME/config.json}. Each file is taken from the first folder that has it
     * (a variant lists its own folder, then the one it differs from).
     */
    static Map<String, String> bundledConfigs(String... folders) {
        Map<String, String> out = new LinkedHashMap<>();
        String index = resource(folders, "model_index.json");
        out.put("model_index.json", index);
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = JSON.readTree(index).fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = e.getValue();
                if (e.getKey().startsWith("_") || !v.isArray() || v.size() != 2 || v.get(1).isNull()) continue;
                String c = e.getKey();
                List<String> files = c.equals("scheduler") ? List.of("scheduler/scheduler_config.json")
                        : v.get(1).asText().endsWith("Tokenizer") ? List.of(c + "/special_tokens_map.json", c + "/tokenizer_config.json")
                        : List.of(c + "/config.json");
                for (String f : files) out.put(f, resource(folders, f));
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("bundled model_index.json of " + folders[0] + ": " + ex.getMessage(), ex);
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    private static String resource(String[] folders, String file) {
        for (String f : folders) {
            try (java.io.InputStream in = SyntheticWeights.class.getResourceAsStream("synthetic/" + f + "/" + file)) {
                if (in != null) return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("synthetic/" + f + "/" + file + ": " + e.getMessage(), e);
            }
        }
        throw new IllegalStateException("the jar lacks the synthetic config " + file + " (looked in " + String.join(", ", folders) + ")");
    }

    /**
     * Looks a synthetic model up by name.
     *
     * @param name the name ({@code sd15}, ...)
     * @return the kind
     * @throws IllegalArgumentException listing the known names when there is no kind of this name
     */
    public static Kind kind(String name) {
        Kind k = KINDS.get(name);
        if (k == null) throw new IllegalArgumentException("no synthetic model " + name + "; known: " + String.join(", ", new java.util.TreeSet<>(KINDS.keySet())));
        return k;
    }

    /**
     * Reads a manifest bundled in this jar (gzipped JSON under dev/jdiffusion/weights/synthetic/).
     *
     * @param resource the manifest's file name there (e.g. {@code sd15-diffusers.json.gz})
     * @return file (null for a flat manifest) to its tensors, in manifest order
     * @throws IllegalStateException when the jar lacks the resource
     * @throws UncheckedIOException when it cannot be read or decompressed
     * @throws ModelFormatException when it is not a valid manifest
     */
    public static Map<String, List<TensorSpec>> bundledManifest(String resource) {
        try (java.io.InputStream in = SyntheticWeights.class.getResourceAsStream("synthetic/" + resource)) {
            if (in == null) throw new IllegalStateException("manifest " + resource + " is missing from the jar");
            JsonNode root = JSON.readTree(new java.util.zip.GZIPInputStream(in));
            return readManifest(root, "manifest " + resource);
        } catch (IOException e) {
            throw new UncheckedIOException("manifest " + resource + ": " + e.getMessage(), e);
        }
    }

    /**
     * The tokenizer folder a synthetic model is written with, the one place synthetic weights look for one: none,
     * since the engine's bundled CLIP tokenizer (the same BPE for SD 1.x, 2.x and SDXL) serves a model folder
     * without {@code tokenizer/}. make-synthetic's {@code --tokenizer DIR} still copies a folder in.
     *
     * @return null: no tokenizer folder is copied by default
     */
    public static Path tokenizerSource() { return null; }

    /**
     * One tensor of a manifest.
     *
     * @param name the tensor's name in its file
     * @param dtype the dtype it has in the real checkpoint (floating tensors are written in the float type asked for)
     * @param shape its dimensions (held, not copied)
     */
    public record TensorSpec(String name, DType dtype, long[] shape) {}

    /**
     * Reads a manifest: either {@code {file: {tensor: {shape, dtype}}}} (diffusers layout) or {@code {tensor:
     * {shape, dtype}}} (one file).
     *
     * @param manifest the JSON manifest file (not gzipped)
     * @return file (null for a flat manifest) to its tensors, in manifest order
     * @throws ModelFormatException naming the manifest when it is missing, not valid JSON, or has a bad file name,
     *     dtype or shape
     */
    public static Map<String, List<TensorSpec>> readManifest(Path manifest) {
        return readManifest(Checkpoint.readJson(manifest), manifest.toString());
    }

    static Map<String, List<TensorSpec>> readManifest(JsonNode root, String manifest) {
        if (root == null || !root.isObject() || root.isEmpty()) throw new ModelFormatException(manifest + ": not a tensor manifest (empty or not an object)");
        Map<String, List<TensorSpec>> out = new LinkedHashMap<>();
        JsonNode first = root.elements().next();
        boolean flat = first.has("shape") && first.has("dtype");
        if (flat) {
            out.put(null, tensors(manifest, root));
        } else {
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                String file = f.getKey();
                if (file.startsWith("/") || file.contains("..") || file.contains("\\") || !file.endsWith(".safetensors"))
                    throw new ModelFormatException(manifest + ": bad file name " + file);
                out.put(file, tensors(manifest, f.getValue()));
            }
        }
        return out;
    }

    private static List<TensorSpec> tensors(String manifest, JsonNode obj) {
        if (!obj.isObject()) throw new ModelFormatException(manifest + ": expected an object of tensors");
        List<TensorSpec> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue(), sh = v.get("shape"), dt = v.get("dtype");
            DType dtype = dt == null ? null : DType.parse(dt.asText());
            if (dtype == null) throw new ModelFormatException(manifest + ": tensor " + e.getKey() + ": bad dtype " + dt);
            if (sh == null || !sh.isArray()) throw new ModelFormatException(manifest + ": tensor " + e.getKey() + ": no shape");
            long[] shape = new long[sh.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!sh.get(i).canConvertToLong() || sh.get(i).asLong() < 0)
                    throw new ModelFormatException(manifest + ": tensor " + e.getKey() + ": bad shape " + sh);
                shape[i] = sh.get(i).asLong();
            }
            list.add(new TensorSpec(e.getKey(), dtype, shape));
        }
        return list;
    }

    /**
     * A synthetic ControlNet for the U-Net folder unetDir (diffusers layout): the U-Net's time embedding, conv_in, down
     * and mid block tensors (shapes as in the U-Net), the conditioning embedding of Stable Diffusion's ControlNets
     * (widths 16, 32, 96, 256) and one 1x1 zero conv per skip plus the mid one, random values (seed); its config.json
     * is the U-Net's with ControlNet's fields. Written once into target (config.json last); for benchmarks.
     *
     * @param unetDir a diffusers U-Net folder (weights and {@code config.json})
     * @param target the ControlNet folder to write; left as it is when its {@code config.json} exists
     * @param seed the random seed of the values
     * @return {@code target}
     * @throws ModelFormatException when the U-Net's weights or config cannot be read
     * @throws UncheckedIOException naming the target when writing fails
     */
    public static Path ensureControlNet(Path unetDir, Path target, long seed) {
        if (Files.isRegularFile(target.resolve("config.json"))) return target;
        try (TensorSource u = Checkpoint.openWeights(unetDir)) {
            List<TensorSpec> specs = new ArrayList<>();
            for (String n : new java.util.TreeSet<>(u.names()))
                if (n.startsWith("time_embedding.") || n.startsWith("conv_in.") || n.startsWith("down_blocks.") || n.startsWith("mid_block."))
                    specs.add(new TensorSpec(n, DType.F16, u.get(n).shape()));
            com.fasterxml.jackson.databind.node.ObjectNode cfg = (com.fasterxml.jackson.databind.node.ObjectNode) Checkpoint.readJson(unetDir.resolve("config.json"));
            int[] emb = {16, 32, 96, 256};
            int c0 = (int) u.get("conv_in.weight").dim(0);
            String e = "controlnet_cond_embedding.";
            conv(specs, e + "conv_in", emb[0], 3, 3);
            for (int i = 0; i < emb.length - 1; i++) {
                conv(specs, e + "blocks." + (2 * i), emb[i], emb[i], 3);
                conv(specs, e + "blocks." + (2 * i + 1), emb[i + 1], emb[i], 3);
            }
            conv(specs, e + "conv_out", c0, emb[emb.length - 1], 3);
            List<Integer> skips = new ArrayList<>();
            skips.add(c0);
            int levels = cfg.get("block_out_channels").size(), lpb = cfg.path("layers_per_block").asInt(2);
            for (int i = 0; i < levels; i++) {
                int ch = cfg.get("block_out_channels").get(i).asInt();
                for (int j = 0; j < lpb; j++) skips.add(ch);
                if (i < levels - 1) skips.add(ch);
            }
            for (int i = 0; i < skips.size(); i++) conv(specs, "controlnet_down_blocks." + i, skips.get(i), skips.get(i), 1);
            int last = skips.get(skips.size() - 1);
            conv(specs, "controlnet_mid_block", last, last, 1);
            Files.createDirectories(target);
            writeFile(target.resolve("diffusion_pytorch_model.safetensors"), specs, DType.F16, seed);
            cfg.put("_class_name", "ControlNetModel");
            cfg.put("conditioning_channels", 3);
            com.fasterxml.jackson.databind.node.ArrayNode a = cfg.putArray("conditioning_embedding_out_channels");
            for (int v : emb) a.add(v);
            Files.writeString(target.resolve("config.json"), cfg.toPrettyString());
            return target;
        } catch (IOException ex) {
            throw new UncheckedIOException(target + ": " + ex.getMessage(), ex);
        }
    }

    private static void conv(List<TensorSpec> specs, String name, int out, int in, int k) {
        specs.add(new TensorSpec(name + ".weight", DType.F16, new long[]{out, in, k, k}));
        specs.add(new TensorSpec(name + ".bias", DType.F16, new long[]{out}));
    }

    /**
     * Writes one synthetic safetensors file holding these tensors; floating tensors are stored as floatType
     * (F16, BF16 or F32), integer tensors keep their dtype. Written atomically (see {@link SafetensorsWriter}).
     *
     * @param target the file to write
     * @param tensors the tensors, in file order
     * @param floatType the stored type of floating tensors: F16, BF16 or F32
     * @param seed the random seed; each tensor's values depend only on it and the tensor's name
     * @throws IllegalArgumentException when floatType is not F16, BF16 or F32, or a tensor spec is invalid
     * @throws UncheckedIOException naming the target when writing fails
     */
    public static void writeFile(Path target, List<TensorSpec> tensors, DType floatType, long seed) {
        if (!floatType.isFloating() || floatType == DType.F64) throw new IllegalArgumentException("float type must be F32, F16 or BF16: " + floatType);
        List<SafetensorsWriter.Spec> specs = new ArrayList<>();
        for (TensorSpec t : tensors) specs.add(new SafetensorsWriter.Spec(t.name(), t.dtype().isFloating() ? floatType : t.dtype(), t.shape()));
        Map<String, String> meta = Map.of("format", "pt", "jdiffusion.synthetic", "random values, seed " + seed);
        float[] fbuf = new float[CHUNK];
        long[] lbuf = new long[CHUNK];
        try (SafetensorsWriter w = SafetensorsWriter.create(target, specs, meta)) {
            for (TensorSpec t : tensors) {
                long n = numel(t.shape());
                if (t.dtype().isFloating()) fill(w, t, n, seed, fbuf);
                else for (long done = 0; done < n; ) {
                    int c = (int) Math.min(CHUNK, n - done);
                    boolean ids = t.name().endsWith("position_ids");
                    for (int i = 0; i < c; i++) lbuf[i] = ids ? (done + i) % t.shape()[t.shape().length - 1] : 0;
                    w.write(lbuf, 0, c);
                    done += c;
                }
            }
            w.commit();
        }
    }

    private static void fill(SafetensorsWriter w, TensorSpec t, long n, long seed, float[] buf) {
        float constant = Float.NaN;
        if (t.name().endsWith(".bias")) constant = 0f;
        else if (t.shape().length <= 1) constant = t.name().endsWith(".weight") ? 1f : 0f;
        if (!Float.isNaN(constant)) Arrays.fill(buf, constant);
        double std = 1.0 / Math.sqrt(Math.max(1, fanIn(t.shape())));
        float half = (float) (Math.sqrt(3.0) * std);          // uniform on [-half, half) has this std
        float scale = half * 0x1p-30f;
        SplittableRandom rnd = new SplittableRandom(seed ^ nameHash(t.name()));
        for (long done = 0; done < n; ) {
            int c = (int) Math.min(buf.length, n - done);
            if (Float.isNaN(constant)) {
                int i = 0;
                for (; i + 1 < c; i += 2) {
                    long r = rnd.nextLong();
                    buf[i] = ((int) r >> 1) * scale;
                    buf[i + 1] = ((int) (r >>> 32) >> 1) * scale;
                }
                if (i < c) buf[i] = ((int) rnd.nextLong() >> 1) * scale;
            }
            w.write(buf, 0, c);
            done += c;
        }
    }

    /** Product of all dimensions but the first (1 for scalars and vectors). */
    static long fanIn(long[] shape) {
        long f = 1;
        for (int i = 1; i < shape.length; i++) f *= shape[i];
        return f;
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /** FNV-1a of the UTF-8 name, so values do not depend on the order of tensors or on String.hashCode. */
    static long nameHash(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /**
     * Writes a complete SD 1.5 diffusers folder: the weight files of the manifest, the configs, and the
     * tokenizer files copied from tokenizerSource (skipped when null, skipped with a warning when absent).
     * {@code model_index.json} is written last, so an interrupted run does not look like a complete model.
     *
     * @param manifest a JSON manifest of the diffusers layout ({@code {file: {tensor: {shape, dtype}}}})
     * @param targetDir the model folder to write (created when missing)
     * @param tokenizerSource a folder to copy the tokenizer files from, or null
     * @param floatType the stored type of floating tensors: F16, BF16 or F32
     * @param seed the random seed of the values
     * @param log where progress lines go
     * @throws ModelFormatException when the manifest is invalid, flat, or disagrees with the SD 1.5 configs
     * @throws UncheckedIOException naming the folder when writing fails
     */
    public static void generateDiffusers(Path manifest, Path targetDir, Path tokenizerSource, DType floatType, long seed, PrintStream log) {
        Map<String, List<TensorSpec>> files = readManifest(manifest);
        if (files.containsKey(null)) throw new ModelFormatException(manifest + ": a flat manifest; the diffusers layout needs {file: {tensor: ...}}");
        verifySd15Configs(files, manifest.toString());
        writeFolder(files, Sd15Configs.FILES, targetDir, tokenizerSource, floatType, seed, log);
    }

    /**
     * Writes the kind's diffusers folder from its bundled manifest and configs, checked by the kind's verifier
     * first; {@code model_index.json} is written last.
     *
     * @param kind the synthetic model; must have a diffusers manifest
     * @param targetDir the model folder to write (created when missing)
     * @param tokenizerSource a folder to copy the tokenizer files from, or null
     * @param floatType the stored type of floating tensors: F16, BF16 or F32
     * @param seed the random seed of the values
     * @param log where progress lines go
     * @throws IllegalArgumentException when the kind has no manifest (its tensors come from its configs)
     * @throws ModelFormatException when the manifest disagrees with the configs
     * @throws UncheckedIOException naming the folder when writing fails
     */
    public static void generateDiffusers(Kind kind, Path targetDir, Path tokenizerSource, DType floatType, long seed, PrintStream log) {
        if (kind.diffusersManifest() == null)
            throw new IllegalArgumentException(kind.name() + " has no manifest: its tensors come from its configs (SyntheticModels)");
        Map<String, List<TensorSpec>> files = bundledManifest(kind.diffusersManifest());
        if (kind.verify() != null) kind.verify().accept(files, "manifest " + kind.diffusersManifest());
        writeFolder(files, kind.configs(), targetDir, tokenizerSource, floatType, seed, log);
    }

    /** Writes the weight files, the configs, the tokenizer and finally model_index.json. */
    static void writeFolder(Map<String, List<TensorSpec>> files, Map<String, String> configs, Path targetDir, Path tokenizerSource,
                            DType floatType, long seed, PrintStream log) {
        writeFolder(files, configs, targetDir, tokenizerSource, Map.of(), floatType, seed, log);
    }

    /**
     * Writes the weight files (a file of {@code linked} is hard-linked to the existing file given there instead: one
     * written with the same tensors, float type and seed, so the same bytes; copied where links are not possible),
     * the configs, the tokenizer files (vocab.json and merges.txt, and whatever the configs do not give, from
     * tokenizerSource into {@code tokenizer/} and every other tokenizer folder the configs have files for) and
     * finally model_index.json.
     *
     * @param files relative file path to its tensors, in the order to write them
     * @param configs relative path to content of each config file, {@code model_index.json} among them
     * @param targetDir the model folder to write (created when missing); an existing {@code model_index.json} is
     *     deleted first
     * @param tokenizerSource a folder to copy the tokenizer files from, or null for none
     * @param linked relative file path to an existing file with the same content, for files not to write again
     * @param floatType the stored type of floating tensors: F16, BF16 or F32
     * @param seed the random seed of the values
     * @param log where progress lines (and a warning for a missing tokenizer folder) go
     * @throws UncheckedIOException naming the folder when writing fails
     */
    public static void writeFolder(Map<String, List<TensorSpec>> files, Map<String, String> configs, Path targetDir, Path tokenizerSource,
                                   Map<String, Path> linked, DType floatType, long seed, PrintStream log) {
        try {
            Files.createDirectories(targetDir);
            Files.deleteIfExists(targetDir.resolve("model_index.json"));
            for (Map.Entry<String, List<TensorSpec>> f : files.entrySet()) {
                long t0 = System.nanoTime();
                Path out = targetDir.resolve(f.getKey());
                Path same = linked.get(f.getKey());
                if (same != null) {
                    Files.createDirectories(out.getParent());
                    Files.deleteIfExists(out);
                    try {
                        Files.createLink(out, same);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(same, out);
                    }
                    log.printf("  %s: %d tensors, %,d bytes, the same as %s%n", f.getKey(), f.getValue().size(), Files.size(out), same);
                    continue;
                }
                writeFile(out, f.getValue(), floatType, seed);
                log.printf("  %s: %d tensors, %,d bytes, %.1f s%n", f.getKey(), f.getValue().size(), Files.size(out), (System.nanoTime() - t0) / 1e9);
            }
            for (Map.Entry<String, String> c : configs.entrySet()) {
                if (c.getKey().equals("model_index.json")) continue;
                Path p = targetDir.resolve(c.getKey());
                Files.createDirectories(p.getParent());
                Files.writeString(p, c.getValue());
            }
            if (tokenizerSource != null && Files.isDirectory(tokenizerSource)) {
                java.util.Set<String> tokenizers = new java.util.TreeSet<>(List.of("tokenizer"));
                for (String c : configs.keySet())
                    if (c.endsWith("/special_tokens_map.json") || c.endsWith("/tokenizer_config.json")) tokenizers.add(c.substring(0, c.indexOf('/')));
                for (String t : tokenizers) {
                    Path tok = Files.createDirectories(targetDir.resolve(t));
                    for (String n : new String[]{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
                        if (Files.isRegularFile(tokenizerSource.resolve(n)) && !configs.containsKey(t + "/" + n))
                            Files.copy(tokenizerSource.resolve(n), tok.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            } else if (tokenizerSource != null) {
                log.println("  warning: no tokenizer folder at " + tokenizerSource + "; tokenizer/ not written (the bundled CLIP tokenizer applies)");
            }
            Files.writeString(targetDir.resolve("model_index.json"), configs.get("model_index.json"));
        } catch (IOException e) {
            throw new UncheckedIOException(targetDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The synthetic model folder at dir, generated (fp16, this seed) unless a complete one is already there
     * ({@code model_index.json} is written last, so its presence means complete). For benchmarks.
     *
     * @param kind the synthetic model; must have a diffusers manifest
     * @param dir the model folder
     * @param tokenizerSource a folder to copy the tokenizer files from, or null
     * @param seed the random seed of the values
     * @param log where progress lines go
     * @return {@code dir}
     * @throws IllegalArgumentException when the folder must be generated and the kind has no manifest
     * @throws UncheckedIOException naming the folder when writing fails
     */
    public static Path ensure(Kind kind, Path dir, Path tokenizerSource, long seed, PrintStream log) {
        if (Files.isRegularFile(dir.resolve("model_index.json"))) return dir;
        log.println("generating full-size synthetic " + kind.name() + " weights (fp16) in " + dir + " ...");
        generateDiffusers(kind, dir, tokenizerSource, DType.F16, seed, log);
        return dir;
    }

    /**
     * Writes the single-file original layout from a flat manifest (sd15-ldm.json).
     *
     * @param manifest a flat JSON manifest ({@code {tensor: {shape, dtype}}})
     * @param targetFile the {@code .safetensors} file to write
     * @param floatType the stored type of floating tensors: F16, BF16 or F32
     * @param seed the random seed of the values
     * @throws ModelFormatException when the manifest is invalid or not flat
     * @throws UncheckedIOException naming the file when writing fails
     */
    public static void generateSingleFile(Path manifest, Path targetFile, DType floatType, long seed) {
        writeSingleFile(readManifest(manifest), manifest.toString(), targetFile, floatType, seed);
    }

    static void writeSingleFile(Map<String, List<TensorSpec>> files, String manifest, Path targetFile, DType floatType, long seed) {
        if (!files.containsKey(null) || files.size() != 1)
            throw new ModelFormatException(manifest + ": expected a flat manifest {tensor: {shape, dtype}} for a single file");
        writeFile(targetFile, files.get(null), floatType, seed);
    }

    /** Checks that the SD 1.5 configs written agree with the manifest's shapes; throws naming the mismatch. */
    static void verifySd15Configs(Map<String, List<TensorSpec>> files, String manifest) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        files.forEach((f, ts) -> ts.forEach(t -> shapes.put(f + ":" + t.name(), t.shape())));
        JsonNode unet = json("unet/config.json"), vae = json("vae/config.json"), te = json("text_encoder/config.json");
        String u = "unet/diffusion_pytorch_model.safetensors:", v = "vae/diffusion_pytorch_model.safetensors:", c = "text_encoder/model.safetensors:";
        expect(manifest, shapes, u + "conv_in.weight", unet.get("block_out_channels").get(0).asLong(), unet.get("in_channels").asLong(), 3, 3);
        expect(manifest, shapes, u + "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                unet.get("block_out_channels").get(0).asLong(), unet.get("cross_attention_dim").asLong());
        int nb = unet.get("block_out_channels").size();
        expect(manifest, shapes, u + "mid_block.resnets.0.conv1.weight", unet.get("block_out_channels").get(nb - 1).asLong(),
                unet.get("block_out_channels").get(nb - 1).asLong(), 3, 3);
        expect(manifest, shapes, u + "conv_out.weight", unet.get("out_channels").asLong(), unet.get("block_out_channels").get(0).asLong(), 3, 3);
        expect(manifest, shapes, v + "encoder.conv_in.weight", vae.get("block_out_channels").get(0).asLong(), vae.get("in_channels").asLong(), 3, 3);
        long lc = vae.get("latent_channels").asLong();
        expect(manifest, shapes, v + "quant_conv.weight", 2 * lc, 2 * lc, 1, 1);
        expect(manifest, shapes, v + "post_quant_conv.weight", lc, lc, 1, 1);
        long h = te.get("hidden_size").asLong();
        expect(manifest, shapes, c + "text_model.embeddings.token_embedding.weight", te.get("vocab_size").asLong(), h);
        expect(manifest, shapes, c + "text_model.embeddings.position_embedding.weight", te.get("max_position_embeddings").asLong(), h);
        expect(manifest, shapes, c + "text_model.encoder.layers.0.mlp.fc1.weight", te.get("intermediate_size").asLong(), h);
        int layers = te.get("num_hidden_layers").asInt();
        if (!shapes.containsKey(c + "text_model.encoder.layers." + (layers - 1) + ".mlp.fc1.weight") || shapes.containsKey(c + "text_model.encoder.layers." + layers + ".mlp.fc1.weight"))
            throw new ModelFormatException(manifest + ": text encoder does not have " + layers + " layers as the config says");
    }

    private static void expect(String manifest, Map<String, long[]> shapes, String key, long... expected) {
        long[] s = shapes.get(key);
        if (s == null) throw new ModelFormatException(manifest + ": missing tensor " + key);
        if (!Arrays.equals(s, expected))
            throw new ModelFormatException(manifest + ": tensor " + key + " has shape " + Arrays.toString(s) + " but the SD 1.5 config implies " + Arrays.toString(expected));
    }

    private static JsonNode json(String file) {
        try {
            return JSON.readTree(Sd15Configs.FILES.get(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final String USAGE = """
            usage: make-synthetic [--dir weights/synthetic-sd15] [--fp32|--bf16] [--seed N] [--manifests DIR]
                                  [--tokenizer DIR] [--single-file [PATH]] [--only-single-file]
              writes full-size synthetic Stable Diffusion 1.5 weights (random values, real names, shapes and configs)
              from the manifests bundled in the jar (--manifests DIR: sd15-diffusers.json and sd15-ldm.json there)""";

    /**
     * Command-line entry point (tools/make-synthetic); exits the JVM with {@link #run}'s exit code.
     *
     * @param args the command-line arguments (see {@code --help})
     */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the generator with command-line arguments.
     *
     * @param args the command-line arguments (see {@code --help})
     * @param out where progress and help go
     * @param err where errors and usage go
     * @return the exit code: 0 on success or for help, 1 when generating fails, 2 for bad arguments
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Path dir = Path.of("weights", "synthetic-sd15");
        Path manifests = null;
        Path tokenizer = tokenizerSource();
        DType dtype = DType.F16;
        long seed = 0;
        Path single = null;
        boolean diffusers = true;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--dir" -> dir = Path.of(value(args, ++i));
                    case "--fp32" -> dtype = DType.F32;
                    case "--bf16" -> dtype = DType.BF16;
                    case "--fp16" -> dtype = DType.F16;
                    case "--seed" -> seed = Long.parseLong(value(args, ++i));
                    case "--manifests" -> manifests = Path.of(value(args, ++i));
                    case "--tokenizer" -> tokenizer = Path.of(value(args, ++i));
                    case "--single-file", "--only-single-file" -> {
                        if (args[i].equals("--only-single-file")) diffusers = false;
                        single = i + 1 < args.length && !args[i + 1].startsWith("--") ? Path.of(args[++i]) : null;
                        if (single == null) single = Path.of("");
                    }
                    case "-h", "--help" -> {
                        out.println(USAGE);
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (IllegalArgumentException e) {
            err.println("make-synthetic: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        if (single != null && single.toString().isEmpty()) single = dir.resolveSibling(dir.getFileName() + ".safetensors");
        Kind sd15 = kind("sd15");
        try {
            long t0 = System.nanoTime();
            if (diffusers) {
                out.println("make-synthetic: " + dtype + " diffusers folder " + dir + " (seed " + seed + ")");
                if (manifests != null) generateDiffusers(manifests.resolve("sd15-diffusers.json"), dir, tokenizer, dtype, seed, out);
                else generateDiffusers(sd15, dir, tokenizer, dtype, seed, out);
            }
            if (single != null) {
                long t1 = System.nanoTime();
                out.println("make-synthetic: " + dtype + " single file " + single);
                if (manifests != null) generateSingleFile(manifests.resolve("sd15-ldm.json"), single, dtype, seed);
                else writeSingleFile(bundledManifest(sd15.singleFileManifest()), sd15.singleFileManifest(), single, dtype, seed);
                out.printf("  %,d bytes, %.1f s%n", Files.size(single), (System.nanoTime() - t1) / 1e9);
            }
            out.printf("make-synthetic: done in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            return 0;
        } catch (ModelFormatException | UncheckedIOException e) {
            err.println("make-synthetic: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("make-synthetic: " + e.getMessage());
            return 1;
        }
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) throw new IllegalArgumentException(args[i - 1] + " needs a value");
        return args[i];
    }
}

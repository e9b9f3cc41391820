package dev.jdiffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.pipeline.ModelFamily;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code jdiffusion info PATH}: what a model folder, single-file checkpoint or any {@code .safetensors} file
 * holds: layout, family, components found and missing, precision and parameter counts. A malformed file is
 * one line naming the file and the defect, exit code 1.
 */
final class InfoCommand {
    private InfoCommand() {}

    static final String USAGE = "usage: jdiffusion info PATH   (a model folder, a checkpoint or any .safetensors file)";

    private static final String[] WEIGHT_COMPONENTS = {Checkpoint.UNET, Checkpoint.VAE, Checkpoint.TEXT_ENCODER, Checkpoint.TEXT_ENCODER_2};

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            out.println(USAGE);
            return 0;
        }
        if (args.length != 1 || args[0].startsWith("-"))
            throw new UsageException(args.length == 0 ? "missing PATH" : "expected one PATH, got " + String.join(" ", args), USAGE);
        Path p;
        try {
            p = Path.of(args[0]);
        } catch (InvalidPathException e) {
            throw new UsageException("not a valid path: " + e.getMessage(), USAGE);
        }
        Path given = p;
        if (!Files.exists(p)) throw new UsageException("no such file or folder: " + p, USAGE);
        try {
            if (p.getFileName() != null && p.getFileName().toString().equals("model_index.json") && p.toAbsolutePath().getParent() != null)
                p = p.toAbsolutePath().getParent();
            if (Files.isDirectory(p)) {
                if (isComponentFolder(p)) describeComponentFolder(p, out);
                else if (isAutoencoderFolder(p)) describeAutoencoderFolder(p, out);
                else describeCheckpoint(p, out);
            } else {
                describeFile(p, out);
            }
            return 0;
        } catch (UncheckedIOException e) {
            throw new ModelFormatException(given + ": cannot read: " + e.getCause().getMessage(), e);
        }
    }

    /** A folder like unet/ on its own: config.json and weights, no model_index.json and no component folders. */
    private static boolean isComponentFolder(Path p) {
        return !Files.exists(p.resolve("model_index.json")) && !Files.isDirectory(p.resolve(Checkpoint.UNET))
                && Files.isRegularFile(p.resolve("config.json"));
    }

    /** A folder of autoencoder weights without a config.json (a TAESD folder: the taesd.py encoder/decoder files). */
    private static boolean isAutoencoderFolder(Path p) {
        if (Files.exists(p.resolve("model_index.json")) || Files.isDirectory(p.resolve(Checkpoint.UNET))) return false;
        try (var s = Files.list(p)) {
            return s.anyMatch(f -> f.getFileName().toString().endsWith(".safetensors"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** What the engine makes of an autoencoder folder (as --taesd or --vae takes it), and its weight files. */
    private static void describeAutoencoderFolder(Path p, PrintStream out) {
        try (dev.jdiffusion.model.vae.ImageAutoencoder ae = dev.jdiffusion.model.vae.Autoencoders.open(p)) {
            out.println("autoencoder: " + p);
            out.println("kind:       " + (ae instanceof dev.jdiffusion.model.vae.AutoencoderKL ? "AutoencoderKL (VAE)" : "tiny autoencoder (TAESD family)"));
            out.println("latents:    " + ae.latentChannels() + " channels, 1/" + ae.spatialFactor() + " of the image's side");
            out.println("parts:      " + (ae.canEncode() ? "encoder" : "no encoder") + ", " + (ae.canDecode() ? "decoder" : "no decoder"));
        }
        out.println("files:");
        try (var files = Files.list(p)) {
            for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".safetensors")).sorted().toList())
                try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                    out.printf("  %-24s %s%n", f.getFileName(), Stats.of(sf, n -> true).line());
                }
        } catch (java.io.IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parameter count (floating tensors), bytes and elements per dtype of a set of tensors. */
    private record Stats(long params, long bytes, Map<DType, Long> dtypes, int tensors) {
        static Stats of(TensorSource s, java.util.function.Predicate<String> keep) {
            long params = 0, bytes = 0;
            int n = 0;
            Map<DType, Long> d = new TreeMap<>();
            for (String name : s.names()) {
                if (!keep.test(name)) continue;
                TensorView t = s.get(name);
                if (t.dtype().isFloating()) params += t.numel();   // integer buffers (position_ids) are not parameters
                bytes += t.numel() * t.dtype().bytes();
                d.merge(t.dtype(), t.numel(), Long::sum);
                n++;
            }
            return new Stats(params, bytes, d, n);
        }

        /** The floating dtypes holding the parameters ("F16", or "F16+F32" when mixed), ignoring integer buffers. */
        String precision() {
            List<String> f = new ArrayList<>();
            dtypes.forEach((k, v) -> { if (k.isFloating()) f.add(k.name()); });
            return f.isEmpty() ? "-" : String.join("+", f);
        }

        String line() {
            return String.format("%,15d params  %-8s %9s  (%d tensors)", params, precision(), human(bytes), tensors);
        }
    }

    static void describeCheckpoint(Path p, PrintStream out) {
        try (Checkpoint c = Checkpoint.open(p)) {
            boolean folder = c.layout() == Checkpoint.Layout.DIFFUSERS;
            out.println("model:      " + p);
            out.println("layout:     " + (folder ? "diffusers folder" : "single-file checkpoint (original layout)"));
            ModelFamily.Detection fam = ModelFamily.of(c);
            out.println("family:     " + (fam.family() == null ? "unknown" : fam.family().label()) + " (" + fam.evidence() + ")");
            out.println("components:");
            List<String> missing = new ArrayList<>();
            java.util.Set<String> precisions = new java.util.TreeSet<>();
            long total = 0;
            for (String comp : WEIGHT_COMPONENTS) {
                if (!c.has(comp)) {
                    // SDXL's second encoder is missing only from an SDXL model
                    boolean xl = fam.family() != null && fam.family().isSdxl();
                    if (comp.equals(Checkpoint.TEXT_ENCODER_2) ? xl : !(comp.equals(Checkpoint.TEXT_ENCODER) && xl && ModelFamily.isRefiner(c)))
                        missing.add(comp);
                    continue;
                }
                Stats s;
                String what;
                if (folder) {
                    TensorSource t = c.tensors(comp);
                    s = Stats.of(t, n -> true);
                    what = describeSource(t, p);
                } else {
                    String prefix = c.prefixOf(comp);
                    s = Stats.of(c.singleFile(), n -> n.startsWith(prefix));
                    what = prefix + "*";
                }
                total += s.params();
                precisions.add(s.precision());
                out.printf("  %-13s %s  %s%n", comp, s.line(), what);
            }
            if (folder) {
                out.printf("  %-13s %s%n", Checkpoint.TOKENIZER,
                        c.has(Checkpoint.TOKENIZER) ? "vocab.json, merges.txt" : "none: the bundled CLIP vocabulary is used");
                if (c.has(Checkpoint.SCHEDULER)) {
                    JsonNode sc = c.config(Checkpoint.SCHEDULER);
                    out.printf("  %-13s %s%n", Checkpoint.SCHEDULER, sc.path("_class_name").asText("scheduler_config.json"));
                } else missing.add(Checkpoint.SCHEDULER);
            } else {
                Stats other = Stats.of(c.singleFile(), n -> java.util.Arrays.stream(WEIGHT_COMPONENTS)
                        .noneMatch(comp -> Checkpoint.singlePrefixes(comp).stream().anyMatch(n::startsWith)));
                if (other.tensors() > 0) out.printf("  %-13s %s  (not used)%n", "other", other.line());
                out.println("  (a single file has no tokenizer or scheduler: the bundled CLIP vocabulary and the family's scheduler defaults are used)");
                var pred = dev.jdiffusion.pipeline.PredictionDetector.detect(c.singleFile());
                if (!pred.reason().equals("default")) // said only when something in the file chose it
                    out.println("prediction: " + pred.shortName() + " (" + pred.reason() + "; --prediction overrides)");
            }
            out.println("missing:    " + (missing.isEmpty() ? "none" : String.join(", ", missing)));
            out.println("precision:  " + (precisions.isEmpty() ? "-" : String.join(", ", precisions)));
            out.printf("parameters: %,d%n", total);
            if (!folder && !c.singleFile().metadata().isEmpty()) printMetadata(c.singleFile().metadata(), out);
        }
    }

    /** The weight file(s) of a component, relative to the model folder. */
    private static String describeSource(TensorSource t, Path root) {
        String d = t.description();
        try {
            return root.toAbsolutePath().relativize(Path.of(d).toAbsolutePath()).toString();
        } catch (IllegalArgumentException e) {
            return d;
        }
    }

    static void describeComponentFolder(Path p, PrintStream out) {
        JsonNode cfg = Checkpoint.readJson(p.resolve("config.json"));
        try (TensorSource t = Checkpoint.openWeights(p)) {
            Stats s = Stats.of(t, n -> true);
            out.println("component:  " + p);
            String cls = cfg.path("_class_name").asText(cfg.path("architectures").path(0).asText("?"));
            out.println("class:      " + cls);
            if (cfg.has("cross_attention_dim")) {
                out.println("unet:       cross_attention_dim " + cfg.get("cross_attention_dim") + ", time_cond_proj_dim " + cfg.path("time_cond_proj_dim")
                        + ", use_linear_projection " + cfg.path("use_linear_projection"));
                if (cls.equals("UNet2DConditionModel")) {
                    try {
                        unetFamily(dev.jdiffusion.model.unet.UNetConfig.fromJson(cfg), out);
                    } catch (ModelFormatException e) {
                        out.println("family:     unknown (" + e.getMessage() + ")");
                    }
                }
            }
            out.println("weights:    " + describeSource(t, p));
            out.println("precision:  " + s.precision());
            out.printf("parameters: %,d (%s, %d tensors)%n", s.params(), human(s.bytes()), s.tensors());
        }
    }

    static void describeFile(Path p, PrintStream out) {
        if (p.getFileName().toString().endsWith(".json")) {
            try (TensorSource t = dev.jdiffusion.weights.ShardedIndex.open(p)) {
                Stats s = Stats.of(t, n -> true);
                out.println("index:      " + p);
                out.println("tensors:    " + s.tensors());
                out.println("precision:  " + s.precision());
                out.printf("parameters: %,d (%s)%n", s.params(), human(s.bytes()));
            }
            return;
        }
        boolean checkpoint;
        Checkpoint.refusePickle(p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Stats s = Stats.of(f, n -> true);
            out.println("file:       " + p);
            out.println("tensors:    " + s.tensors());
            Map<String, String> d = new LinkedHashMap<>();
            s.dtypes().forEach((k, v) -> d.put(k.name(), String.format("%,d", v)));
            out.println("dtypes:     " + d);
            out.printf("elements:   %,d (%s of data, %s file)%n", s.dtypes().values().stream().mapToLong(Long::longValue).sum(), human(s.bytes()), human(f.fileSize()));
            checkpoint = f.names().stream().anyMatch(n -> n.startsWith("model.diffusion_model.") || n.startsWith("first_stage_model."));
            // a U-Net on its own in diffusers' names (SDXL-Lightning / Hyper-SDXL / LCM U-Net files): its family from its shapes
            if (!checkpoint && f.contains("conv_in.weight") && f.contains("down_blocks.0.resnets.0.conv1.weight")) {
                try {
                    unetFamily(dev.jdiffusion.model.unet.UNetConfig.infer(f), out);
                } catch (ModelFormatException e) {
                    out.println("family:     unknown (" + e.getMessage() + ")");
                }
            }
            if (!checkpoint && !f.metadata().isEmpty()) printMetadata(f.metadata(), out);
        }
        if (checkpoint) {
            out.println();
            describeCheckpoint(p, out);
        }
    }

    /**
     * The family of a U-Net given alone. Without a scheduler config a few-step distillation (Lightning, Hyper) looks
     * like its base model: said so, since the model folder it runs in decides.
     */
    private static void unetFamily(dev.jdiffusion.model.unet.UNetConfig u, PrintStream out) {
        ModelFamily f = ModelFamily.detect(u, null);
        out.println("family:     " + f.label() + " (" + ModelFamily.evidence(u, null) + ")"
                + (f == ModelFamily.SDXL ? "; a U-Net alone: a Lightning / Hyper-SDXL distillation is told by the scheduler config "
                + "(trailing timesteps) of the model it runs in" : ""));
    }

    private static void printMetadata(Map<String, String> meta, PrintStream out) {
        out.println("metadata:");
        meta.forEach((k, v) -> {
            String one = v.replace('\n', ' ');
            out.println("  " + k + " = " + (one.length() > 200 ? one.substring(0, 200) + "..." : one));
        });
    }

    static String human(long bytes) { return dev.jdiffusion.hub.Progress.human(bytes); }

}

package dev.jdiffusion.cli;

import dev.jdiffusion.io.AtomicFiles;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.ControlNet;
import dev.jdiffusion.pipeline.GenerationException;
import dev.jdiffusion.pipeline.Inpainting;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.sampling.Schedulers;
import dev.jdiffusion.tensor.Tensor;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code jdiffusion generate}: text-to-image, image-to-image, inpainting and ControlNet from the command line. */
final class GenerateCommand {
    private GenerateCommand() {}

    static final String USAGE = """
            usage: jdiffusion generate -m MODEL -p PROMPT [options] [-o out.png]
              -m, --model PATH        diffusers folder or single-file .safetensors checkpoint
              -p, --prompt TEXT       what to draw; (word:1.3), (word) and [word] weight parts
              -n, --negative TEXT     what to avoid (classifier-free guidance models)
              --steps N               denoising steps (default: LCM 4, others 25)
              --sampler NAME          lcm, ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras
              --cfg X                 guidance scale (default: LCM models 8, as an embedding; --sampler lcm on
                                      other models 1, i.e. no guidance; others 7.5)
              --seed S                seed (default or -1: random; printed and recorded in the PNG);
                                      image i of a batch uses S + i
              -W, --width N  -H, --height N   image size, multiples of 8 (default: model's native size)
              --batch N               images per run (written as out-1.png, out-2.png, ..., each with its seed)
              --init-image F --strength X     image-to-image from F, strength in (0, 1] (default 0.8; with --mask 1);
                                      an image of another size is resized to -W x -H (or to multiples of 8)
              --mask F                inpaint: repaint where the mask image F is white (binarised at 0.5), with
                                      --init-image; an inpainting model (9-channel U-Net) or any model (per-step blend)
              --mask-blur N           blur (pixels) of the mask when the result is composited over the init image
                                      (default 4); --no-composite returns the model's whole image instead
              --outpaint L,T,R,B      extend --init-image by these pixels on the left, top, right, bottom and paint them
              --control M:IMG[:SCALE[:START:END]]   ControlNet M (folder or .safetensors) guided by image IMG, at SCALE
                                      (default 1) from fraction START to END of the steps (default 0:1); repeatable
              --control-preprocess P  none (default: the images are control images) or canny[:LOW:HIGH] (edges,
                                      thresholds on 0..255, default 100:200)
              --vae F                 replacement VAE (file or folder)
              --taesd F               TAESD decoder (+encoder) folder or file: previews, and --fast-decode
              --fast-decode           decode with TAESD instead of the full VAE
              --preview FILE          write each step's preview image (TAESD when given, else a rough latent
                                      preview) over FILE (.png or .jpg), to watch it in an image viewer
              --low-memory            smallest memory: U-Net weight pages released block by block, VAE decoded
                                      in 256x256 tiles (slightly slower; seams blended as diffusers' tiled decode)
              --tokenizer DIR         tokenizer folder (default: the model's, else the CLIP vocabulary in the jar)
              --text-encoder PATH     replacement text encoder (folder or file)
              --config DIR            diffusers folder whose configs describe a single-file checkpoint
              --lora FILE[:WEIGHT]    apply a LoRA (kohya/A1111, LoCon, diffusers/PEFT .safetensors) at WEIGHT
                                      (default 1, negative allowed); repeatable. An LCM-LoRA switches the
                                      defaults to --sampler lcm, 4 steps, no guidance
              --lora-dir DIR          folder for the prompt's <lora:NAME:WEIGHT> tags (NAME.safetensors)
              --embedding FILE        textual-inversion embedding (A1111 .safetensors: trigger word = file name;
                                      diffusers learned_embeds.safetensors); repeatable
              --embedding-dir DIR     load every .safetensors embedding in DIR
              --clip-skip N           use the N-th last text-encoder layer (default 1)
              --eta X                 DDIM eta (default 0)
              --prediction eps|v      what the U-Net predicts, for every sampler (default: the model's scheduler
                                      config, else epsilon); v for SD 2.0-v / 2.1 768-px single files
              --threads N             compute threads (default: all cores)
              --device D              auto, cpu or cuda[:N] (default cpu; the GPU path is not wired into the pipeline yet)
              -o, --output FILE       image to write, .png (with the parameters) or .jpg (default out.png)""";

    private static final Set<String> VALUED = Set.of("--model", "--prompt", "--negative", "--steps", "--sampler", "--cfg",
            "--seed", "--width", "--height", "--batch", "--init-image", "--strength", "--vae", "--taesd", "--tokenizer",
            "--text-encoder", "--config", "--clip-skip", "--eta", "--prediction", "--threads", "--output", "--device",
            "--mask", "--mask-blur", "--outpaint", "--control", "--control-preprocess",
            "--lora", "--lora-dir", "--embedding", "--embedding-dir", "--preview");
    private static final Set<String> FLAGS = Set.of("--help", "--fast-decode", "--quiet", "--low-memory", "--no-composite");
    private static final Map<String, String> ALIASES = Map.of("-m", "--model", "-p", "--prompt", "-n", "--negative",
            "-W", "--width", "-H", "--height", "-o", "--output", "-h", "--help", "-q", "--quiet");

    static int run(String[] argv, PrintStream out, PrintStream err) throws java.io.IOException {
        Args a = new Args(argv, VALUED, FLAGS, ALIASES, USAGE);
        if (a.help(out)) return 0;
        a.requireNoPositional();
        Path model = Path.of(a.require("--model"));
        String prompt = a.require("--prompt");
        String sampler = a.get("--sampler");
        if (sampler != null && !Schedulers.NAMES.contains(sampler.toLowerCase(Locale.ROOT)))
            throw new UsageException("unknown sampler '" + sampler + "' (known: " + String.join(", ", Schedulers.NAMES) + ")", USAGE);
        float strength = a.floatValue("--strength", 0.8f);
        if (a.has("--strength") && !a.has("--init-image")) throw new UsageException("--strength needs --init-image", USAGE);
        for (String o : new String[]{"--mask", "--outpaint"})
            if (a.has(o) && !a.has("--init-image")) throw new UsageException(o + " needs --init-image", USAGE);
        if (a.has("--mask") && a.has("--outpaint")) throw new UsageException("--mask and --outpaint do not go together (--outpaint makes the mask)", USAGE);
        for (String o : new String[]{"--mask-blur", "--no-composite"})
            if (a.has(o) && !a.has("--mask") && !a.has("--outpaint")) throw new UsageException(o + " needs --mask or --outpaint", USAGE);
        if (a.floatValue("--eta", 0f) != 0f && !"ddim".equalsIgnoreCase(sampler))
            throw new UsageException("--eta applies to the ddim sampler only; add --sampler ddim", USAGE);
        String prediction = a.get("--prediction");
        if (prediction != null && !Set.of("eps", "epsilon", "v", "v_prediction").contains(prediction))
            throw new UsageException("--prediction must be eps or v, got '" + prediction + "'", USAGE);
        int threads = a.intValue("--threads", 0);
        if (a.has("--threads") && (threads < 1 || threads > 1024)) throw new UsageException("--threads must be >= 1, got " + threads, USAGE);
        Path output = Path.of(a.get("--output", "out.png"));
        if (Files.isDirectory(output)) throw new UsageException("output " + output + " is a folder; give a file name such as " + output.resolve("out.png"), USAGE);
        Path outDir = output.toAbsolutePath().getParent();
        if (outDir == null || !Files.isDirectory(outDir)) throw new UsageException("output folder does not exist: " + outDir, USAGE);
        if (!Files.isWritable(outDir)) throw new UsageException("output folder is not writable: " + outDir, USAGE);
        if (Images.formatOf(output) == null)
            throw new UsageException("-o " + output + ": unknown image type; give a .png or .jpg name", USAGE);
        Path preview = a.path("--preview");
        if (preview != null && Images.formatOf(preview) == null)
            throw new UsageException("--preview " + preview + ": unknown image type; give a .png or .jpg name", USAGE);
        if (!Files.exists(model)) throw new UsageException("no such model: " + model, USAGE);

        boolean quiet = a.flag("--quiet");
        request(a, prompt, sampler, strength, null); // every option's range, before any file is read
        Tensor init = a.has("--init-image") ? Images.read(a.path("--init-image")) : null;
        if (init != null) {
            // an init image of another size (or sides not multiples of 8) is resized, as diffusers' image processor does
            int iw = init.dim(3), ih = init.dim(2);
            int w = a.has("--width") ? a.intValue("--width", 0) : Math.max(8, iw / 8 * 8);
            int h = a.has("--height") ? a.intValue("--height", 0) : Math.max(8, ih / 8 * 8);
            if (w != iw || h != ih) {
                init = Images.resize(init, w, h);
                if (!quiet)
                    err.println("jdiffusion generate: init image " + a.get("--init-image") + " is " + iw + "x" + ih + "; resized to " + w + "x" + h
                            + (a.has("--width") || a.has("--height") ? " (-W/-H)" : " (sides must be multiples of 8)"));
            }
        }
        Tensor mask = null;
        if (init != null && a.has("--outpaint")) {
            int[] pad = Inpaint.padding(a.get("--outpaint"), USAGE);
            Inpainting.Canvas c = Inpainting.outpaint(init, pad[0], pad[1], pad[2], pad[3]);
            init = c.image();
            mask = c.mask();
            if (init.dim(3) % 8 != 0 || init.dim(2) % 8 != 0)
                throw new UsageException("--outpaint makes a " + init.dim(3) + "x" + init.dim(2) + " image; its sides must be multiples of 8", USAGE);
        }
        if (init != null && a.has("--mask")) mask = Inpaint.readMask(a.path("--mask"), init, quiet ? null : err, USAGE);
        if (init != null && (a.has("--width") && a.intValue("--width", 0) != init.dim(3) || a.has("--height") && a.intValue("--height", 0) != init.dim(2)))
            throw new UsageException("--outpaint makes a " + init.dim(3) + "x" + init.dim(2) + " image but -W/-H ask for another size", USAGE);
        GenerationRequest.Builder b = request(a, prompt, sampler, strength, init);
        if (mask != null) {
            b.mask(mask).composite(!a.flag("--no-composite"));
            if (a.has("--mask-blur")) b.maskBlur(a.intValue("--mask-blur", 4));
            try {
                b.build();
            } catch (GenerationRequest.InvalidFieldException e) {
                throw new UsageException((e.field().equals(GenerationRequest.MASK_BLUR) ? "--mask-blur" : "--mask")
                        + e.getMessage().substring(e.field().length()), USAGE);
            }
        }
        List<Inpaint.ControlSpec> controlSpecs = new ArrayList<>();
        for (String spec : a.all("--control")) controlSpecs.add(Inpaint.controlSpec(spec, USAGE));
        String preprocess = a.get("--control-preprocess", "none");
        if (a.has("--control-preprocess") && controlSpecs.isEmpty()) throw new UsageException("--control-preprocess needs --control", USAGE);
        double[] canny = Inpaint.preprocess(preprocess, USAGE);
        int batch = a.intValue("--batch", 1);
        List<Path> outputs = new ArrayList<>();
        for (int i = 1; i <= batch; i++) outputs.add(batch == 1 ? output : numbered(output, i));
        for (Path o : outputs) if (Files.isDirectory(o)) throw new UsageException("output " + o + " is a folder", USAGE);
        int deviceExit = DeviceOption.check(a, "generate", err, USAGE);
        if (deviceExit != 0) return deviceExit;

        ModelOptions opts = ModelOptions.of(model).withVae(a.path("--vae")).withTaesd(a.path("--taesd"))
                .withTokenizer(a.path("--tokenizer")).withTextEncoder(a.path("--text-encoder")).withConfig(a.path("--config"))
                .withTaesdDecode(a.flag("--fast-decode")).withLowMemory(a.flag("--low-memory")).withThreads(threads)
                .withPrediction(prediction);
        if (a.flag("--fast-decode") && !a.has("--taesd")) throw new UsageException("--fast-decode needs --taesd", USAGE);
        opts = withAdapters(a, opts);
        CleanupOnExit.install();
        // every output can be written: checked before the model loads, not found out after the generation
        for (Path o : outputs) {
            try (AtomicFiles.Pending probe = AtomicFiles.start(o)) {
                probe.temp(); // created and deleted again: the folder takes new files
            } catch (java.io.IOException e) {
                err.println("jdiffusion generate: cannot write " + o + ": " + reason(e, o));
                return 1;
            }
        }
        if (a.has("--taesd") && !a.flag("--fast-decode") && preview == null && !quiet)
            err.println("jdiffusion generate: note: --taesd alone changes nothing here: add --fast-decode to decode with it, "
                    + "or --preview FILE to see each step's image");
        long t0 = System.nanoTime();
        List<ControlNet> nets = new ArrayList<>();
        LoadStatus status = new LoadStatus(err, model, quiet);
        StableDiffusion loaded;
        try {
            loaded = StableDiffusion.load(opts, status::part);
        } catch (RuntimeException e) {
            status.failed();
            throw e;
        }
        try (StableDiffusion sd = loaded) {
            for (Inpaint.ControlSpec c : controlSpecs) {
                ControlNet net = ControlNet.load(c.model());
                nets.add(net);
                net.checkFits(sd.components().unet().config(), sd.modelName());
                b.control(net, Inpaint.controlImage(c.image(), canny, sd.resolve(b.build()), quiet ? null : err), c.scale(), c.start(), c.end());
            }
            double load = status.done();
            ProgressBar bar = new ProgressBar(err, ProgressBar.terminal() && !quiet, quiet);
            b.progress(bar::onStep);
            if (preview != null) b.previews(true).progress(e -> {
                bar.onStep(e);
                writePreview(preview, e.preview(), err);
            });
            GenerationRequest req = b.build();
            for (String note : sd.notes(req)) err.println("jdiffusion generate: note: " + note);
            GenerationResult r;
            try {
                r = sd.generate(req);
            } catch (GenerationException e) {
                bar.done();
                err.println("jdiffusion generate: " + e.getMessage());
                return 1;
            }
            bar.done();
            List<Path> written = new ArrayList<>();
            for (int i = 0; i < r.images().size(); i++) {
                Path p = outputs.get(i);
                Images.write(p, r.images().get(i), Map.of("parameters", r.parameters(i)));
                written.add(p);
            }
            StableDiffusion.Resolved res = sd.resolve(req);
            out.printf(Locale.ROOT, "%s  %dx%d  %s %d steps  cfg %s  seed %d  load %.1fs  text %.2fs  unet %.1fs  vae %.1fs  total %.1fs%n",
                    written.size() == 1 ? written.get(0) : written.size() + " images (" + written.get(0) + " ...)",
                    res.width(), res.height(), res.sampler(), res.steps(), res.guidance(), r.seed(), load,
                    r.timings().get("text_encoder"), r.timings().get("unet"), r.timings().get("vae"),
                    (System.nanoTime() - t0) / 1e9);
            return 0;
        } finally {
            for (ControlNet n : nets) n.close();
        }
    }

    /** The reason an output cannot be written, without the temporary file's name. */
    private static String reason(java.io.IOException e, Path o) {
        Throwable c = e;
        while (!(c instanceof java.nio.file.FileSystemException) && c.getCause() != null) c = c.getCause();
        if (!(c instanceof java.nio.file.FileSystemException f)) return e.getMessage().replace("cannot write " + o + ": ", "");
        String m = f.getReason();
        if (m == null) m = f instanceof java.nio.file.NoSuchFileException ? "no file can be created there"
                : f instanceof java.nio.file.AccessDeniedException ? "permission denied" : f.getClass().getSimpleName();
        return m.replace("cannot write: ", "");
    }

    /** Writes a step's preview (the batch's first image) over the preview file; a failure is said once, not fatal. */
    private static void writePreview(Path file, Tensor preview, PrintStream err) {
        if (preview == null) return;
        int per = preview.numel() / preview.dim(0);
        Tensor first = new Tensor(java.util.Arrays.copyOf(preview.data(), per), 3, preview.dim(2), preview.dim(3));
        try {
            Images.write(file, first, Map.of());
        } catch (java.io.IOException e) {
            err.println("jdiffusion generate: --preview " + file + ": " + e.getMessage());
        }
    }

    /**
     * What is loading, on stderr: on a terminal a live line ("loading MODEL: U-Net, text encoder, VAE (2.1 s)"),
     * cleared if the load fails so that the error stands alone. Nothing elsewhere (a log gets the steps and errors,
     * each error one line; the load time is in the summary on stdout), nor with --quiet.
     */
    private static final class LoadStatus {
        private final PrintStream err;
        private final boolean quiet, terminal;
        private final List<String> parts = new ArrayList<>();
        private final long t0 = System.nanoTime();

        LoadStatus(PrintStream err, Path model, boolean quiet) {
            this.err = err;
            this.quiet = quiet;
            this.terminal = ProgressBar.terminal();
            if (!quiet && terminal) {
                err.print("jdiffusion generate: loading " + model + ": ");
                err.flush();
            }
        }

        void part(String name) {
            if (!quiet && terminal) {
                err.print((parts.isEmpty() ? "" : ", ") + name);
                err.flush();
            }
            parts.add(name);
        }

        /** The load failed: the terminal line is cleared. */
        void failed() {
            if (!quiet && terminal) {
                err.print("\r\033[K");
                err.flush();
            }
        }

        double done() {
            double s = (System.nanoTime() - t0) / 1e9;
            if (quiet) return s;
            if (terminal) err.printf(Locale.ROOT, " (%.1f s)%n", s);
            return s;
        }
    }

    /** --lora FILE[:WEIGHT] (repeatable), --lora-dir, --embedding (repeatable), --embedding-dir. */
    static ModelOptions withAdapters(Args a, ModelOptions opts) {
        for (String v : a.all("--lora")) {
            String file = v;
            float w = 1f;
            int colon = v.lastIndexOf(':');
            if (colon > 0 && colon < v.length() - 1 && !Files.isRegularFile(Path.of(v))) {
                try {
                    w = Float.parseFloat(v.substring(colon + 1));
                    file = v.substring(0, colon);
                } catch (NumberFormatException e) {
                    // no weight suffix: the whole value is the file
                }
            }
            if (!Float.isFinite(w) || Math.abs(w) > 100) throw new UsageException("--lora " + v + ": weight must be a number in [-100, 100]", USAGE);
            if (!Files.isRegularFile(Path.of(file))) throw new UsageException("--lora " + v + ": file " + file + " not found", USAGE);
            opts = opts.withLora(Path.of(file), w);
        }
        if (a.has("--lora-dir")) {
            if (!Files.isDirectory(a.path("--lora-dir"))) throw new UsageException("--lora-dir " + a.get("--lora-dir") + ": not a folder", USAGE);
            opts = opts.withLoraDir(a.path("--lora-dir"));
        }
        for (String v : a.all("--embedding")) {
            if (!Files.isRegularFile(Path.of(v))) throw new UsageException("--embedding " + v + ": file not found", USAGE);
            opts = opts.withEmbedding(Path.of(v));
        }
        if (a.has("--embedding-dir")) {
            if (!Files.isDirectory(a.path("--embedding-dir"))) throw new UsageException("--embedding-dir " + a.get("--embedding-dir") + ": not a folder", USAGE);
            opts = opts.withEmbeddingDir(a.path("--embedding-dir"));
        }
        return opts;
    }

    private static final Map<String, String> FLAG_OF = Map.of(GenerationRequest.STEPS, "--steps", GenerationRequest.WIDTH, "-W/--width",
            GenerationRequest.HEIGHT, "-H/--height", GenerationRequest.BATCH, "--batch", GenerationRequest.CLIP_SKIP, "--clip-skip",
            GenerationRequest.GUIDANCE, "--cfg", GenerationRequest.STRENGTH, "--strength", GenerationRequest.ETA, "--eta",
            GenerationRequest.INIT_IMAGE, "--init-image");

    /**
     * The request the options describe, each option set only when given (unset ones take the model's defaults).
     * Ranges are checked once, by the builder; its error is reported with the option's name.
     */
    private static GenerationRequest.Builder request(Args a, String prompt, String sampler, float strength, Tensor init) {
        GenerationRequest.Builder b = GenerationRequest.builder(prompt).negativePrompt(a.get("--negative", "")).sampler(sampler)
                .batch(a.intValue("--batch", 1)).clipSkip(a.intValue("--clip-skip", 1)).eta(a.floatValue("--eta", 0f))
                .initImage(init);
        if (a.has("--strength")) b.strength(strength);
        if (a.has("--steps")) b.steps(a.intValue("--steps", 0));
        if (a.has("--width")) b.width(a.intValue("--width", 0));
        if (a.has("--height")) b.height(a.intValue("--height", 0));
        if (a.has("--cfg")) b.guidanceScale(a.floatValue("--cfg", 0f));
        long seed = a.longValue("--seed", -1);
        if (seed != -1) b.seed(seed); // -1 (A1111's convention) or no --seed: a random seed, printed and recorded
        try {
            b.build();
        } catch (GenerationRequest.InvalidFieldException e) {
            String flag = FLAG_OF.get(e.field());
            throw new UsageException(flag == null ? e.getMessage() : flag + e.getMessage().substring(e.field().length()), USAGE);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage(), USAGE);
        }
        return b;
    }

    /**
     * Interrupted (Ctrl-C, SIGTERM) while a PNG is being written: delete the temporary, so no partial file is left
     * (the output itself only ever appears complete, by an atomic rename).
     */
    private static final class CleanupOnExit {
        static {
            Runtime.getRuntime().addShutdownHook(new Thread(AtomicFiles::shutdown, "jdiffusion-cleanup"));
        }

        static void install() {} // the class initializer registers the hook, once per JVM
    }

    static Path numbered(Path p, int i) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        String name = dot > 0 ? n.substring(0, dot) + "-" + i + n.substring(dot) : n + "-" + i;
        return p.resolveSibling(name);
    }
}

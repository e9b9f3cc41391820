package dev.jdiffusion.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.kernels.KernelConfig;
import dev.jdiffusion.kernels.Parallel;
import dev.jdiffusion.kernels.Profiler;
import dev.jdiffusion.model.clip.ClipTextConfig;
import dev.jdiffusion.model.unet.UNet2DConditionModel;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.ModelComponents;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SyntheticWeights;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code jdiffusion bench}: runs the real pipeline (on a model, or on full-size synthetic SD 1.5 weights generated
 * once from the manifests in the jar), warms up, and reports per-component medians, FLOPs, GFLOP/s, a per-op profile,
 * the machine's vector width and cores, and peak RSS.
 */
final class BenchCommand {
    private BenchCommand() {}

    static final String USAGE = """
            usage: jdiffusion bench [--model M | --synthetic sd15|sdxl|sdxl-turbo] [options]
                   jdiffusion bench --compare A.json B.json ...   (runs saved with --json, side by side)
              --model PATH            a diffusers folder or single-file checkpoint
              --synthetic NAME        full-size random weights (fp16), generated once under weights/synthetic-NAME from the
                                      configs in the jar: sd15 (SD 1.5, from its tensor manifest), sdxl (SDXL base 1.0),
                                      sdxl-turbo (SDXL-Turbo: the same weights, Euler ancestral trailing, 512x512)
              --manifests DIR         read sd15-diffusers.json from DIR instead of the jar
              -W N -H N               image size (default: the model family's native size, 512x512 for SD 1.5)
              --steps N               denoising steps (default 4)
              --sampler NAME          sampler (default lcm: one U-Net evaluation per step, as LCM models run)
              --cfg X                 guidance scale (default: 1 for the lcm sampler, i.e. no second pass)
              --batch N               images per run (default 1)
              --taesd F               decode with TAESD instead of the full VAE
              --threads N             compute threads (default: all cores)
              --device D              auto, cpu or cuda[:N] (default cpu; the GPU path is not wired into the pipeline yet)
              --runs N                measured runs after the warm-up (default 1)
              --no-warmup             skip the warm-up run
              --profile               per-op-kind profile (time, FLOPs, GFLOP/s), and each kind's rate as a fraction
                                      of OpenBLAS sgemm 2048^3 measured in the same run (when libopenblas.so.0 is installed)
                                      and of a register-only FMA loop at the kernels' vector width (the Java ceiling);
                                      both are measured after each run, and with --runs N the fractions are the medians
                                      of the runs' own; then the 15 call shapes that took the most time
              --low-memory            low-memory mode (as generate --low-memory)
              --lora SPEC             FILE[:WEIGHT], or synthetic:RANK[xCOUNT] (COUNT random LoRAs of that rank on the
                                      U-Net's and text encoder's attention/MLP layers, written to a temporary folder);
                                      repeatable. The runs are measured without, then with the LoRAs (same model)
              --json                  print one JSON object instead of the table
              --controlnets N         add N ControlNets (with --synthetic: one made from the U-Net's config, written
                                      once under weights/synthetic-controlnet-NAME) guided by a flat control image
              --inpaint               inpaint the left half of a flat grey init image (strength 1)""";

    private static final Set<String> VALUED = Set.of("--model", "--synthetic", "--manifests", "--width", "--height", "--steps",
            "--sampler", "--cfg", "--batch", "--taesd", "--threads", "--runs", "--device", "--controlnets", "--lora");
    private static final Set<String> FLAGS = Set.of("--help", "--json", "--no-warmup", "--profile", "--low-memory", "--compare", "--inpaint");
    private static final Map<String, String> ALIASES = Map.of("-W", "--width", "-H", "--height", "-h", "--help", "-m", "--model");

    static int run(String[] argv, PrintStream out, PrintStream err) throws IOException {
        Args a = new Args(argv, VALUED, FLAGS, ALIASES, USAGE);
        if (a.flag("--help")) {
            out.println(USAGE);
            return 0;
        }
        if (a.flag("--compare")) return BenchCompare.run(a.positional(), out);
        if (a.has("--model") == a.has("--synthetic")) throw new UsageException("give exactly one of --model or --synthetic sd15", USAGE);
        Path model = a.has("--model") ? Path.of(a.get("--model")) : synthetic(a, err);
        int side = nativeSize(model);
        int w = a.intValue("--width", side), h = a.intValue("--height", side), steps = a.intValue("--steps", 4);
        int runs = a.intValue("--runs", 1), batch = a.intValue("--batch", 1);
        if (runs < 1 || runs > 100) throw new UsageException("--runs must be between 1 and 100", USAGE);
        String sampler = a.get("--sampler", "lcm");
        float cfg = a.floatValue("--cfg", sampler.equals("lcm") ? 1f : 7.5f);
        int threads = a.intValue("--threads", 0);
        if (a.has("--threads") && (threads < 1 || threads > Parallel.MAX_THREADS))
            throw new UsageException("--threads must be from 1 to " + Parallel.MAX_THREADS, USAGE);
        int deviceExit = DeviceOption.check(a, "bench", err, USAGE);
        if (deviceExit != 0) return deviceExit;
        GenerationRequest.Builder rb;
        try {
            rb = GenerationRequest.builder("a photo of an astronaut riding a horse on mars, highly detailed")
                    .sampler(sampler).steps(steps).size(w, h).batch(batch).guidanceScale(cfg).seed(42);
            rb.build();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage(), USAGE);
        }
        boolean json = a.flag("--json");
        PrintStream log = json ? err : out;
        ModelOptions opts = ModelOptions.of(model).withTaesd(a.path("--taesd")).withTaesdDecode(a.has("--taesd"))
                .withLowMemory(a.flag("--low-memory")).withThreads(threads);
        if (a.flag("--profile")) Profiler.enable(true);

        int nets = a.intValue("--controlnets", 0);
        if (nets < 0 || nets > 4) throw new UsageException("--controlnets must be from 0 to 4", USAGE);
        List<dev.jdiffusion.pipeline.ControlNet> controlNets = new ArrayList<>();
        for (int i = 0; i < nets; i++) {
            Path cn = SyntheticWeights.ensureControlNet(model.resolve("unet"),
                    Path.of(System.getProperty("jdiffusion.home", ".")).resolve("weights").resolve("synthetic-controlnet-" + model.getFileName()), 77);
            controlNets.add(dev.jdiffusion.pipeline.ControlNet.load(cn));
            Tensor grey = new Tensor(new float[3 * h * w], 1, 3, h, w);
            java.util.Arrays.fill(grey.data(), 0.5f);
            rb.control(controlNets.get(i), grey, 1f, 0f, 1f);
        }
        if (a.flag("--inpaint")) {
            Tensor init = new Tensor(new float[3 * h * w], 1, 3, h, w), mask = new Tensor(new float[h * w], 1, 1, h, w);
            java.util.Arrays.fill(init.data(), 0.5f);
            for (int y = 0; y < h; y++) for (int x = 0; x < w / 2; x++) mask.data()[y * w + x] = 1f;
            rb.initImage(init).mask(mask);
        }
        MemorySampler mem = MemorySampler.start();
        long l0 = System.nanoTime();
        try (StableDiffusion sd = StableDiffusion.load(opts)) {
            double loadS = (System.nanoTime() - l0) / 1e9;
            log.printf(Locale.ROOT, "model %s (%s), loaded in %.1f s; %d threads, %s%n", model, sd.family(), loadS,
                    sd.threads(), KernelConfig.describe());
            if (!a.flag("--no-warmup")) {
                log.println("warm-up run (1 step) ...");
                sd.generate(GenerationRequest.builder("warm up").sampler(sampler).steps(1).size(w, h).batch(batch).guidanceScale(cfg).seed(1).build());
            }
            List<Path> loraTemp = new ArrayList<>();
            if (!a.all("--lora").isEmpty()) {
                // Without the LoRAs first, in this JVM, then with them: the U-Net step ratio is the LoRAs' overhead.
                List<Double> baseSteps = new ArrayList<>();
                for (int r = 0; r < runs; r++) {
                    long[] last = {0};
                    sd.generate(rb.progress(e -> {
                        baseSteps.add((e.elapsed().toNanos() - last[0]) / 1e9);
                        last[0] = e.elapsed().toNanos();
                    }).build(), null, null, null);
                }
                long loraBytes = 0;
                for (String spec : a.all("--lora")) loraBytes += addLora(spec, rb, model, loraTemp, log);
                log.printf(Locale.ROOT, "without LoRAs: unet step median %.3f s %s; LoRA tensors on the heap: %.1f MB%n", median(baseSteps),
                        fmt(baseSteps), loraBytes / 1e6);
                if (!a.flag("--no-warmup")) {
                    log.println("warm-up run with the LoRAs (1 step) ...");
                    GenerationRequest.Builder wb = GenerationRequest.builder("warm up").sampler(sampler).steps(1).size(w, h).batch(batch).guidanceScale(cfg).seed(1);
                    for (var l : rb.build().loras()) wb.lora(l.file(), l.weight());
                    sd.generate(wb.build());
                }
            }
            Profiler.reset();
            List<Double> te = new ArrayList<>(), unet = new ArrayList<>(), vae = new ArrayList<>(), total = new ArrayList<>();
            List<RunProfile> profiles = new ArrayList<>();
            Map<Profiler.Op, double[]> before = Profiler.snapshot();
            long runsRss = -1; // with --profile: the peak RSS read right after each run, before its references
            for (int r = 0; r < runs; r++) {
                long[] last = {0};
                List<Double> stepTimes = new ArrayList<>();
                long t0 = System.nanoTime();
                GenerationResult res = sd.generate(rb.progress(e -> {
                    long now = e.elapsed().toNanos();
                    stepTimes.add((now - last[0]) / 1e9);
                    last[0] = now;
                }).build(), null, null, null);
                total.add((System.nanoTime() - t0) / 1e9);
                te.add(res.timings().get("text_encoder"));
                vae.add(res.timings().get("vae"));
                unet.addAll(stepTimes);
                log.printf(Locale.ROOT, "run %d: total %.2f s (text %.2f s, steps %s, decode %.2f s)%n", r + 1, total.get(r), te.get(r),
                        fmt(stepTimes), vae.get(r));
                if (Profiler.enabled()) {
                    Map<Profiler.Op, double[]> after = Profiler.snapshot();
                    runsRss = Math.max(runsRss, peakRss());
                    mem.pause();
                    profiles.add(RunProfile.measure(delta(before, after), sd.threads(), r + 1 < runs));
                    resetPeakRss(); // so the next run's peak does not include the references' memory
                    mem.resume();
                    before = Profiler.snapshot(); // the references' own calls are not counted
                }
            }
            ModelComponents parts = sd.components();
            boolean cfgPass = parts.unet().config().timeCondProjDim() == 0 && cfg > 1f;
            int unetBatch = batch * (cfgPass ? 2 : 1);
            int textLen = parts.tokenizer().maxLength();
            long unetFlops = UNet2DConditionModel.flops(parts.unet().config(), unetBatch, h / 8, w / 8, textLen);
            long vaeFlops = a.has("--taesd") ? 0 : parts.vae().decodeFlops(h, w) * batch;
            int prompts = (cfgPass ? 2 : 1) * batch;
            // SDXL: encoder 1 stops at its penultimate layer; encoder 2 runs all layers (its pooled output).
            ModelComponents.Sdxl xl = parts.sdxl();
            long te1Flops = parts.textEncoder() == null ? 0 : clipFlops(parts.textEncoder().config(), prompts, textLen)
                    / parts.textEncoder().config().numLayers() * (parts.textEncoder().config().numLayers() - (xl != null ? 1 : 0));
            long te2Flops = xl == null ? 0 : clipFlops(xl.textEncoder2().config(), prompts, xl.tokenizer2().maxLength());
            long teFlops = te1Flops + te2Flops;
            double unetS = median(unet), vaeS = median(vae), teS = median(te), totalS = median(total);
            // before the encoders are timed alone below, which is no part of a generation; with --profile, as read after each
            // run (before its references)
            long rss = Profiler.enabled() ? runsRss : peakRss();
            MemorySampler.Peaks peaks = mem.stop();
            List<Double> te1 = new ArrayList<>(), te2 = new ArrayList<>();
            if (xl != null && parts.textEncoder() != null) {
                // Each SDXL encoder alone, as the conditioner calls it (the generation times them together).
                int[][] ids1 = new int[prompts][], ids2 = new int[prompts][];
                for (int i = 0; i < prompts; i++) {
                    ids1[i] = parts.tokenizer().encode(rb.build().prompt());
                    ids2[i] = xl.tokenizer2().encode(rb.build().prompt());
                }
                for (int r = 0; r < Math.max(3, runs); r++) {
                    long t0 = System.nanoTime();
                    parts.textEncoder().encodeHidden(ids1, 1, false);
                    long t1 = System.nanoTime();
                    xl.textEncoder2().encodeHidden(ids2, 1, true);
                    te1.add((t1 - t0) / 1e9);
                    te2.add((System.nanoTime() - t1) / 1e9);
                }
            }
            String cpu = cpuName();
            // the references for the op kinds' rates (--profile only), measured after each run: medians over the runs
            List<Double> fmaRuns = profiles.stream().map(RunProfile::fma).toList(), blasRuns = profiles.stream().map(RunProfile::blas).toList();
            double fma = median(fmaRuns.stream().filter(x -> !x.isNaN()).toList()), blas = median(blasRuns.stream().filter(x -> !x.isNaN()).toList());
            if (json) {
                ObjectMapper m = new ObjectMapper();
                ObjectNode o = m.createObjectNode();
                o.put("unet_step_s", unetS);
                o.put("unet_gflops", unetFlops / unetS / 1e9);
                o.put("unet_flops", unetFlops);
                o.put("vae_decode_s", vaeS);
                o.put("vae_gflops", vaeFlops == 0 ? 0 : vaeFlops / vaeS / 1e9);
                o.put("text_encoder_s", teS);
                o.put("text_encoder_gflops", teFlops / teS / 1e9);
                o.put("text_encoder_flops", teFlops);
                if (!te1.isEmpty()) {
                    o.put("text_encoder_1_s", median(te1));
                    o.put("text_encoder_1_flops", te1Flops);
                    o.put("text_encoder_1_gflops", te1Flops / median(te1) / 1e9);
                    o.put("text_encoder_2_s", median(te2));
                    o.put("text_encoder_2_flops", te2Flops);
                    o.put("text_encoder_2_gflops", te2Flops / median(te2) / 1e9);
                }
                o.put("total_s", totalS);
                o.put("load_s", loadS);
                o.put("peak_rss_bytes", rss);
                o.put("peak_rss_anon_bytes", peaks.anon());
                o.put("peak_rss_file_bytes", peaks.file());
                o.put("heap_max_bytes", Runtime.getRuntime().maxMemory());
                o.put("low_memory", a.flag("--low-memory"));
                o.put("threads", sd.threads());
                o.put("vector_bits", KernelConfig.vectorBits());
                o.put("cpu", cpu);
                o.put("cores", Runtime.getRuntime().availableProcessors());
                o.set("machine", machine(m, sd.threads()));
                o.put("width", w);
                o.put("height", h);
                o.put("steps", steps);
                o.put("sampler", sampler);
                o.put("family", sd.family().name());
                o.put("vae_tiled", parts.vae() != null && !a.has("--taesd") && parts.vae().tiles(h / 8, w / 8));
                o.put("batch", batch);
                o.put("unet_batch", unetBatch);
                o.put("decoder", a.has("--taesd") ? "taesd" : "vae");
                o.put("controlnets", nets);
                o.put("inpaint", a.flag("--inpaint"));
                if (Profiler.enabled()) {
                    o.set("ops", Profiler.toJson(m));
                    o.set("op_shapes", Profiler.shapesJson(m, PROFILE_SHAPES_JSON));
                    if (!Double.isNaN(blas)) {
                        o.put("openblas_sgemm_gflops", blas);
                        o.put("openblas_core", BlasReference.coreName());
                        var each = o.putArray("openblas_sgemm_gflops_runs");
                        blasRuns.forEach(each::add);
                        o.set("op_fraction_of_openblas", fractionsJson(m, profiles, RunProfile::blas));
                    }
                    if (!Double.isNaN(fma)) {
                        o.put("fma_loop_gflops", fma);
                        var each = o.putArray("fma_loop_gflops_runs");
                        fmaRuns.forEach(each::add);
                        o.set("op_fraction_of_fma_loop", fractionsJson(m, profiles, RunProfile::fma));
                    }
                }
                out.println(m.writerWithDefaultPrettyPrinter().writeValueAsString(o));
            } else {
                out.printf(Locale.ROOT, "%ncpu %s, %d cores, %d threads; %s%n", cpu, Runtime.getRuntime().availableProcessors(),
                        sd.threads(), KernelConfig.describe());
                out.printf(Locale.ROOT, "%-14s %10s %12s %10s%n", "component", "median s", "GFLOP", "GFLOP/s");
                row(out, "text encoder", teS, teFlops);
                if (!te1.isEmpty()) {
                    row(out, "  encoder 1", median(te1), te1Flops);
                    row(out, "  encoder 2", median(te2), te2Flops);
                }
                if (nets > 0) out.printf(Locale.ROOT, "%-14s %10.3f   (U-Net with %d ControlNet%s: GFLOP not counted)%n", "step", unetS, nets, nets > 1 ? "s" : "");
                else row(out, "unet step", unetS, unetFlops);
                if (vaeFlops > 0) row(out, "vae decode", vaeS, vaeFlops);
                else out.printf(Locale.ROOT, "%-14s %10.3f%n", "taesd decode", vaeS);
                out.printf(Locale.ROOT, "%-14s %10.3f%n", "total", totalS);
                out.printf(Locale.ROOT, "peak RSS %.2f GB (sampled peaks: anonymous %.2f GB, mapped files %.2f GB)%s%n", rss / 1e9,
                        peaks.anon() / 1e9, peaks.file() / 1e9, a.flag("--low-memory") ? ", low-memory mode" : "");
                if (Profiler.enabled()) {
                    out.print(Profiler.table());
                    if (Double.isNaN(blas)) out.println("OpenBLAS not found (libopenblas.so.0): no reference sgemm in this run");
                    else out.print(ratios(String.format(Locale.ROOT, "OpenBLAS sgemm 2048^3 (%s kernels), %s",
                            BlasReference.coreName() == null ? "core unknown" : BlasReference.coreName(),
                            referenceRate(blasRuns)), profiles, RunProfile::blas));
                    if (!Double.isNaN(fma))
                        out.print(ratios(String.format(Locale.ROOT, "FMA loop (%d-bit, %d threads), %s", FmaPeak.vectorBits(),
                                sd.threads(), referenceRate(fmaRuns)), profiles, RunProfile::fma));
                    out.print(Profiler.shapesTable(PROFILE_SHAPES_TEXT));
                }
            }
            return 0;
        } finally {
            for (dev.jdiffusion.pipeline.ControlNet n : controlNets) n.close();
        }
    }

    /**
     * Adds a --lora SPEC to the request: FILE[:WEIGHT], or synthetic:RANK[xCOUNT] (random LoRAs written to a temporary
     * folder, deleted at exit). Returns the heap bytes the LoRA tensors take (float32).
     */
    static long addLora(String spec, GenerationRequest.Builder rb, Path model, List<Path> temp, PrintStream log) throws IOException {
        if (!spec.startsWith("synthetic:")) {
            int colon = spec.lastIndexOf(':');
            Path f = Path.of(spec);
            float wt = 1f;
            if (colon > 0 && !Files.isRegularFile(f)) {
                f = Path.of(spec.substring(0, colon));
                wt = Float.parseFloat(spec.substring(colon + 1));
            }
            if (!Files.isRegularFile(f)) throw new UsageException("--lora " + spec + ": file not found", USAGE);
            rb.lora(f, wt);
            return dev.jdiffusion.lora.LoraFile.open(f).bytes();
        }
        String[] rc = spec.substring("synthetic:".length()).split("x");
        int rank, count;
        try {
            rank = Integer.parseInt(rc[0]);
            count = rc.length > 1 ? Integer.parseInt(rc[1]) : 1;
        } catch (NumberFormatException e) {
            throw new UsageException("--lora " + spec + ": expected synthetic:RANK or synthetic:RANKxCOUNT", USAGE);
        }
        long bytes = 0;
        Path dir = Files.createTempDirectory("jdiffusion-lora");
        dir.toFile().deleteOnExit();
        try (dev.jdiffusion.weights.Checkpoint ck = dev.jdiffusion.weights.Checkpoint.open(model)) {
            for (int i = 0; i < count; i++) {
                Path f = dir.resolve("synthetic-r" + rank + "-" + i + ".safetensors");
                java.util.Map<String, dev.jdiffusion.tensor.Tensor> t = new java.util.LinkedHashMap<>();
                java.util.Random rnd = new java.util.Random(1000L * rank + i);
                syntheticModules(ck.tensors(dev.jdiffusion.weights.Checkpoint.UNET), "lora_unet_",
                        java.util.regex.Pattern.compile(".*(transformer_blocks\\.\\d+\\.(attn[12]\\.(to_[qkv]|to_out\\.0)|ff\\.net\\.(0\\.proj|2))|attentions\\.\\d+\\.proj_(in|out))\\.weight"),
                        rank, rnd, t);
                syntheticModules(ck.tensors(dev.jdiffusion.weights.Checkpoint.TEXT_ENCODER), "lora_te_",
                        java.util.regex.Pattern.compile(".*layers\\.\\d+\\.(self_attn\\.(q|k|v|out)_proj|mlp\\.fc[12])\\.weight"), rank, rnd, t);
                dev.jdiffusion.weights.SafetensorsWriter.write(f, t, DType.F16, java.util.Map.of());
                f.toFile().deleteOnExit();
                temp.add(f);
                for (var x : t.values()) bytes += 4L * x.numel();
                rb.lora(f, 1f);
            }
        }
        log.printf(Locale.ROOT, "--lora %s: %d synthetic LoRA file(s) of rank %d%n", spec, count, rank);
        return bytes;
    }

    /** Random down/up pairs (kohya names, alpha = rank) for every weight of src whose name matches. */
    private static void syntheticModules(dev.jdiffusion.weights.TensorSource src, String prefix, java.util.regex.Pattern which, int rank,
                                         java.util.Random rnd, java.util.Map<String, dev.jdiffusion.tensor.Tensor> out) {
        for (String n : src.names()) {
            if (!which.matcher(n).matches()) continue;
            var v = src.get(n);
            int rows = (int) v.dim(0), cols = (int) (v.numel() / rows);
            String key = prefix + n.substring(0, n.length() - ".weight".length()).replace('.', '_');
            float[] down = new float[rank * cols], up = new float[rows * rank];
            for (int i = 0; i < down.length; i++) down[i] = (float) (rnd.nextGaussian() / Math.sqrt(cols));
            for (int i = 0; i < up.length; i++) up[i] = (float) (rnd.nextGaussian() * 0.01);
            out.put(key + ".lora_down.weight", new dev.jdiffusion.tensor.Tensor(down, rank, cols));
            out.put(key + ".lora_up.weight", new dev.jdiffusion.tensor.Tensor(up, rows, rank));
            out.put(key + ".alpha", new dev.jdiffusion.tensor.Tensor(new float[]{rank}, 1));
        }
    }

    /** Call shapes listed by --profile (slowest first): in the text table, in --json's op_shapes. */
    static final int PROFILE_SHAPES_TEXT = 15, PROFILE_SHAPES_JSON = 60;

    /**
     * One measured run's op kinds (seconds, FLOPs, calls of that run alone) and the two references measured right after
     * it with the same thread count: the FMA loop at the kernels' width, the ceiling of any Java GEMM here (no native
     * library needed; first, as OpenBLAS's idle threads busy-wait for about 0.1 s after its calls), and OpenBLAS sgemm
     * 2048^3 (NaN without libopenblas.so.0). On a shared host whose speed swings within minutes, a fraction taken from each
     * run and its own references, then the median over runs, is steadier than totals over runs against one reference.
     */
    record RunProfile(Map<Profiler.Op, double[]> ops, double fma, double blas) {
        static RunProfile measure(Map<Profiler.Op, double[]> ops, int threads, boolean another) {
            double fma = FmaPeak.gflops(threads, 5), blas = BlasReference.sgemmGflops(2048, 5, threads);
            if (another && !Double.isNaN(blas)) {
                try {
                    Thread.sleep(150); // OpenBLAS's threads spin for about 0.1 s after a call: not into the next run
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return new RunProfile(ops, fma, blas);
        }

        /** The op kind's rate in this run over the reference's, or NaN where either is missing. */
        double fraction(Profiler.Op op, double reference) {
            double[] v = ops.get(op);
            return v == null || v[0] <= 0 || v[1] <= 0 || Double.isNaN(reference) ? Double.NaN : v[1] / v[0] / 1e9 / reference;
        }
    }

    /** The counters' change from before to after, kinds with calls in between only. */
    static Map<Profiler.Op, double[]> delta(Map<Profiler.Op, double[]> before, Map<Profiler.Op, double[]> after) {
        Map<Profiler.Op, double[]> d = new java.util.EnumMap<>(Profiler.Op.class);
        after.forEach((op, v) -> {
            double[] b = before.getOrDefault(op, new double[3]);
            if (v[2] > b[2]) d.put(op, new double[] {v[0] - b[0], v[1] - b[1], v[2] - b[2]});
        });
        return d;
    }

    /** Each op kind with FLOPs: the median over runs of its fraction of the reference (kinds in {@link Profiler.Op} order). */
    static Map<Profiler.Op, Double> fractions(List<RunProfile> runs, java.util.function.ToDoubleFunction<RunProfile> reference) {
        Map<Profiler.Op, Double> m = new java.util.EnumMap<>(Profiler.Op.class);
        for (Profiler.Op op : Profiler.Op.values()) {
            List<Double> f = new ArrayList<>();
            for (RunProfile r : runs) {
                double x = r.fraction(op, reference.applyAsDouble(r));
                if (!Double.isNaN(x)) f.add(x);
            }
            if (!f.isEmpty()) m.put(op, median(f));
        }
        return m;
    }

    private static ObjectNode fractionsJson(ObjectMapper m, List<RunProfile> runs, java.util.function.ToDoubleFunction<RunProfile> reference) {
        ObjectNode o = m.createObjectNode();
        fractions(runs, reference).forEach((op, f) -> o.put(op.name().toLowerCase(Locale.ROOT), f));
        return o;
    }

    /** "same run: X GFLOP/s" for one run; for several, the median and range of the rates measured after each. */
    static String referenceRate(List<Double> perRun) {
        List<Double> v = perRun.stream().filter(x -> !x.isNaN()).sorted().toList();
        if (v.size() <= 1) return String.format(Locale.ROOT, "same run: %.1f GFLOP/s", v.isEmpty() ? Double.NaN : v.get(0));
        return String.format(Locale.ROOT, "after each of %d runs: median %.1f GFLOP/s (%.1f-%.1f)", v.size(), median(v), v.get(0), v.get(v.size() - 1));
    }

    /**
     * A reference's line (OpenBLAS sgemm's, the FMA loop's rate: {@link #referenceRate}), then each op kind's effective
     * GFLOP/s as a fraction of it (the median of the runs' own).
     */
    private static String ratios(String reference, List<RunProfile> runs, java.util.function.ToDoubleFunction<RunProfile> gflops) {
        StringBuilder b = new StringBuilder(reference).append(runs.size() > 1 ? "; op kinds as a fraction of it, medians of the runs' own:"
                : "; op kinds as a fraction of it:");
        fractions(runs, gflops).forEach((op, f) -> b.append(String.format(Locale.ROOT, " %s %.2f", op.name().toLowerCase(Locale.ROOT), f)));
        return b.append('\n').toString();
    }

    private static void row(PrintStream out, String name, double s, long flops) {
        out.printf(Locale.ROOT, "%-14s %10.3f %12.1f %10.1f%n", name, s, flops / 1e9, flops / s / 1e9);
    }

    /** Multiply-adds x 2 of the CLIP text transformer as written, for n sequences of len tokens. */
    static long clipFlops(ClipTextConfig c, int n, int len) {
        long d = c.hiddenSize(), f = c.intermediateSize(), t = (long) n * len;
        long perLayer = 2 * t * (4 * d * d + 2 * d * f) + 2L * 2 * n * (long) len * len * d;
        return perLayer * c.numLayers();
    }

    /** The native image side of the model's family (SDXL 1024, SDXL-Turbo and SD 1.x 512), read from its files; 512 if unknown. */
    private static int nativeSize(Path model) {
        try (dev.jdiffusion.weights.Checkpoint ck = dev.jdiffusion.weights.Checkpoint.open(model)) {
            dev.jdiffusion.pipeline.ModelFamily.Detection d = dev.jdiffusion.pipeline.ModelFamily.of(ck);
            return d.family() == null ? 512 : d.family().defaultSize();
        } catch (RuntimeException e) {
            return 512; // the load reports what is wrong with the model
        }
    }

    private static Path synthetic(Args a, PrintStream err) {
        String name = a.get("--synthetic");
        SyntheticWeights.Kind kind;
        try {
            kind = SyntheticWeights.kind(name);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--synthetic: " + e.getMessage(), USAGE);
        }
        Path home = Path.of(System.getProperty("jdiffusion.home", "."));
        Path dir = home.resolve("weights").resolve("synthetic-" + name);
        if (Files.isRegularFile(dir.resolve("model_index.json"))) return dir;
        Path tok = SyntheticWeights.tokenizerSource();
        if (!a.has("--manifests") || kind.diffusersManifest() == null) return dev.jdiffusion.pipeline.SyntheticModels.ensure(kind, home.resolve("weights"), 1234, err);
        Path manifest = Path.of(a.get("--manifests")).resolve(name + "-diffusers.json");
        if (!Files.isRegularFile(manifest)) throw new UsageException("no manifest at " + manifest + " (--manifests DIR)", USAGE);
        err.println("generating synthetic " + name + " weights (fp16) into " + dir + " ...");
        SyntheticWeights.generateDiffusers(manifest, dir, tok, DType.F16, 1234, err);
        return dir;
    }

    static double median(List<Double> v) {
        if (v.isEmpty()) return Double.NaN;
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static String fmt(List<Double> v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.size(); i++) sb.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", v.get(i)));
        return sb.append(']').toString();
    }

    /**
     * Starts the peak resident set size (VmHWM) afresh from the current one (Linux: 5 to /proc/self/clear_refs); where that
     * cannot be done the peak keeps what came before.
     */
    static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | RuntimeException e) {
            // no /proc (or not writable): nothing to reset
        }
    }

    /** Peak resident set size of this process (VmHWM), or -1 where /proc is absent. */
    static long peakRss() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("VmHWM:")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * What decides speed on this machine: CPU model and flags (/proc/cpuinfo), cores, threads, OS architecture, JDK,
     * the JVM's vector flags, and the kernel shapes chosen for them (see bench/README.md for the fields).
     */
    static ObjectNode machine(ObjectMapper m, int threads) {
        ObjectNode o = m.createObjectNode();
        o.put("cpu", cpuName());
        var flags = o.putArray("cpu_flags");
        for (String f : cpuFlags()) flags.add(f);
        o.put("os_arch", System.getProperty("os.arch"));
        o.put("cores", Runtime.getRuntime().availableProcessors());
        o.put("threads", threads);
        o.put("jdk", System.getProperty("java.vm.vendor") + " " + Runtime.version());
        var jvm = o.putArray("jvm_flags");
        for (String f : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (f.startsWith("-XX:") || f.startsWith("-Xmx")) jvm.add(f);
        o.put("vector_bits", KernelConfig.vectorBits());
        o.put("use_avx", KernelConfig.useAvx());
        o.put("vector_registers", KernelConfig.vectorRegisters());
        o.set("kernels", m.valueToTree(KernelConfig.shapes()));
        return o;
    }

    /** The first processor's flags in /proc/cpuinfo ("flags" on x86, "Features" on ARM), empty where absent. */
    static List<String> cpuFlags() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (l.startsWith("flags") || l.startsWith("Features"))
                    return List.of(l.substring(l.indexOf(':') + 1).trim().split("\\s+"));
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return List.of();
    }

    static String cpuName() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).trim();
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }
}

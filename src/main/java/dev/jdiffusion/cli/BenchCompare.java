package dev.jdiffusion.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code jdiffusion bench --compare a.json b.json ...}: runs saved with {@code bench --json}, side by side: the
 * machine (CPU, vector width, UseAVX, micro-kernel, threads), per component seconds and GFLOP/s, the reference rates a
 * profiled run measured (the FMA loop, OpenBLAS sgemm), and each run's
 * time as a ratio to the first run's; with {@code --profile} runs also per op kind.
 */
final class BenchCompare {
    private BenchCompare() {}

    static int run(List<String> files, PrintStream out) throws IOException {
        if (files.isEmpty()) throw new UsageException("--compare needs one or more JSON files written by bench --json", BenchCommand.USAGE);
        ObjectMapper m = new ObjectMapper();
        List<JsonNode> runs = new ArrayList<>();
        for (String f : files) {
            Path p = Path.of(f);
            if (!Files.isRegularFile(p)) throw new UsageException("--compare: no file " + f, BenchCommand.USAGE);
            JsonNode n;
            try {
                n = m.readTree(p.toFile());
            } catch (JacksonException e) {
                throw new UsageException("--compare: " + f + " is not JSON (" + e.getOriginalMessage() + ")", BenchCommand.USAGE);
            }
            if (n == null || !n.isObject() || !n.has("unet_step_s"))
                throw new UsageException("--compare: " + f + " is not a bench --json result (no unet_step_s)", BenchCommand.USAGE);
            runs.add(n);
        }
        out.print(table(files, runs));
        return 0;
    }

    /** The side-by-side table of runs named by names. */
    static String table(List<String> names, List<JsonNode> runs) {
        List<List<String>> sb = new ArrayList<>();
        String cell = "";
        line(sb, cell, "", names.stream().map(n -> Path.of(n).getFileName().toString()).toList());
        line(sb, cell, "cpu", runs.stream().map(r -> text(r, "cpu")).toList());
        line(sb, cell, "vectors", runs.stream().map(r -> {
            JsonNode mc = r.path("machine");
            int avx = mc.path("use_avx").asInt(-1);
            return r.path("vector_bits").asInt() + "-bit" + (avx >= 0 ? ", UseAVX " + avx : "");
        }).toList());
        line(sb, cell, "micro-kernel", runs.stream().map(r -> r.path("machine").path("kernels").path("micro_kernel").asText("?")).toList());
        line(sb, cell, "threads", runs.stream().map(r -> r.path("threads").asText("?") + " of " + r.path("cores").asText("?")).toList());
        line(sb, cell, "jdk", runs.stream().map(r -> r.path("machine").path("jdk").asText("?")).toList());
        line(sb, cell, "image", runs.stream().map(r -> r.path("width").asText() + "x" + r.path("height").asText() + " " + r.path("decoder").asText()).toList());
        sb.add(List.of());
        metric(sb, cell, runs, "text encoder", "text_encoder_s", "text_encoder_gflops");
        metric(sb, cell, runs, "unet step", "unet_step_s", "unet_gflops");
        metric(sb, cell, runs, "vae decode", "vae_decode_s", "vae_gflops");
        metric(sb, cell, runs, "total", "total_s", null);
        line(sb, cell, "peak RSS GB", runs.stream().map(r -> String.format(Locale.ROOT, "%.2f", r.path("peak_rss_bytes").asDouble() / 1e9)).toList());
        Set<String> ops = new LinkedHashSet<>();
        for (JsonNode r : runs) r.path("ops").fieldNames().forEachRemaining(ops::add);
        if (!ops.isEmpty()) {
            sb.add(List.of());
            sb.add(List.of("profile (s GFLOP/s x)"));
            for (String op : ops) {
                List<String> cells = new ArrayList<>();
                double base = runs.get(0).path("ops").path(op).path("seconds").asDouble(Double.NaN);
                for (JsonNode r : runs) {
                    JsonNode o = r.path("ops").path(op);
                    if (o.isMissingNode()) {
                        cells.add("-");
                        continue;
                    }
                    double s = o.path("seconds").asDouble(), g = o.path("gflops").asDouble();
                    cells.add(String.format(Locale.ROOT, "%.3f %s %s", s, g > 0 ? String.format(Locale.ROOT, "%.1f", g) : "-", ratio(s, base)));
                }
                line(sb, cell, op, cells);
            }
        }
        // the references --profile measured on each machine: what its FMA units give a Java loop, and OpenBLAS sgemm
        boolean fma = runs.stream().anyMatch(r -> r.has("fma_loop_gflops")), blas = runs.stream().anyMatch(r -> r.has("openblas_sgemm_gflops"));
        if (fma || blas) sb.add(List.of());
        if (fma) reference(sb, cell, runs, "FMA loop (GFLOP/s x)", "fma_loop_gflops");
        if (blas) reference(sb, cell, runs, "OpenBLAS sgemm (GFLOP/s x)", "openblas_sgemm_gflops");
        return render(sb);
    }

    /** Rows of cells: the first column left-aligned, the others right-aligned, each as wide as its widest cell. */
    private static String render(List<List<String>> rows) {
        List<Integer> w = new ArrayList<>();
        for (List<String> r : rows)
            if (r.size() > 1)
                for (int i = 0; i < r.size(); i++) {
                    if (w.size() <= i) w.add(0);
                    w.set(i, Math.max(w.get(i), r.get(i).length()));
                }
        StringBuilder sb = new StringBuilder();
        for (List<String> r : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.size(); i++) {
                if (r.size() == 1) line.append(r.get(i));
                else if (i == 0) line.append(String.format(Locale.ROOT, "%-" + w.get(0) + "s", r.get(0)));
                else line.append("   ").append(String.format(Locale.ROOT, "%" + w.get(i) + "s", r.get(i)));
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    private static void metric(List<List<String>> sb, String cell, List<JsonNode> runs, String name, String seconds, String gflops) {
        double base = runs.get(0).path(seconds).asDouble(Double.NaN);
        List<String> cells = new ArrayList<>();
        for (JsonNode r : runs) {
            if (!r.has(seconds)) {
                cells.add("-");
                continue;
            }
            double s = r.path(seconds).asDouble(), g = gflops == null ? 0 : r.path(gflops).asDouble();
            cells.add(String.format(Locale.ROOT, "%.3f s%s %s", s, g > 0 ? String.format(Locale.ROOT, " %.1f", g) : "", ratio(s, base)));
        }
        line(sb, cell, name + (gflops != null ? " (s GFLOP/s x)" : " (s x)"), cells);
    }

    /** A rate each run measured (GFLOP/s), and its ratio to the first run's. */
    private static void reference(List<List<String>> sb, String cell, List<JsonNode> runs, String name, String field) {
        double base = runs.get(0).path(field).asDouble(Double.NaN);
        List<String> cells = new ArrayList<>();
        for (JsonNode r : runs) {
            double g = r.path(field).asDouble(Double.NaN);
            cells.add(r.has(field) ? String.format(Locale.ROOT, "%.1f %s", g, ratio(g, base)) : "-");
        }
        line(sb, cell, name, cells);
    }

    private static String ratio(double s, double base) {
        return base > 0 && Double.isFinite(base) ? String.format(Locale.ROOT, "%.2fx", s / base) : "-";
    }

    private static String text(JsonNode r, String field) {
        String t = r.path(field).asText("?");
        return t.length() > 24 ? t.substring(0, 24) : t;
    }

    private static void line(List<List<String>> sb, String cell, String name, List<String> cells) {
        List<String> r = new ArrayList<>();
        r.add(name);
        r.addAll(cells);
        sb.add(r);
    }
}

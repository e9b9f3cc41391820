package dev.jdiffusion.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.Locale;
import java.util.Map;

/**
 * Runs the JMH benchmarks (arguments are JMH's own, e.g. a regex of benchmarks, -p shape=..., -wi 2) and
 * prints a GFLOP/s table computed from the measured time per call.
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) throws Exception {
        ChainedOptionsBuilder ob = new OptionsBuilder().parent(new CommandLineOptions(args));
        Collection<RunResult> results = new Runner(ob.build()).run();
        System.out.println();
        System.out.println("| benchmark | shape | time/call | GFLOP/s | ns/element |");
        System.out.println("|---|---|---:|---:|---:|");
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            Map<String, String> p = new java.util.TreeMap<>();
            for (String key : r.getParams().getParamsKeys()) p.put(key, r.getParams().getParam(key));
            double ms = r.getPrimaryResult().getScore();
            double flops = flops(name, p);
            String unit = r.getPrimaryResult().getScoreUnit();
            double perMs = unit.startsWith("us") ? 1e-3 : unit.startsWith("ns") ? 1e-6 : unit.startsWith("s/") ? 1e3 : 1;
            double elements = elements(name, p);
            System.out.printf(Locale.ROOT, "| %s | %s | %.3f %s | %s | %s |%n", name, p, ms, unit,
                    Double.isNaN(flops) ? "-" : String.format(Locale.ROOT, "%.1f", flops / (ms * perMs * 1e6)),
                    Double.isNaN(elements) ? "-" : String.format(Locale.ROOT, "%.2f", ms * perMs * 1e6 / elements));
        }
    }

    /** Output elements per call of the memory-bound benchmarks (their figure is time per element), else NaN. */
    static double elements(String bench, Map<String, String> p) {
        long[] s = java.util.Arrays.stream(p.getOrDefault("shape", "0").split("x")).mapToLong(Long::parseLong).toArray();
        return switch (bench) {
            case "geglu" -> (double) s[0] * s[1];
            case "groupNormSilu" -> (double) s[0] * s[1] * s[2];
            default -> Double.NaN;
        };
    }

    static double flops(String bench, Map<String, String> p) {
        String shape = p.getOrDefault("shape", "");
        long[] s = shape.isEmpty() ? new long[0] : java.util.Arrays.stream(shape.split("x")).mapToLong(Long::parseLong).toArray();
        return switch (bench) {
            case "matmulOurs", "matmulOpenBlas" -> {
                double n = Double.parseDouble(p.get("n"));
                yield 2 * n * n * n;
            }
            case "linear" -> 2.0 * s[0] * s[1] * s[2];
            case "conv3x3" -> 2.0 * s[0] * s[0] * 9 * s[1] * s[2];
            case "attention" -> 4.0 * s[0] * s[1] * s[2] * s[3];
            default -> Double.NaN;
        };
    }
}

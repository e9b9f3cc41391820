package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bench --profile}: the op-kind table, and each kind's rate as a fraction of OpenBLAS sgemm and of the FMA loop, both
 * measured in the same run.
 */
class BenchProfileTest {
    @Test void profileComparesEveryOpKindWithOpenBlasInTheSameRun() {
        VaeCommandTest.Result r = VaeCommandTest.run("bench", "--model", Golden.resolve("models/tiny-sd1").toString(), "-W", "64", "-H", "64",
                "--steps", "1", "--no-warmup", "--profile");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("conv3x3") && r.out().contains("GFLOP/s"), r.out());
        Matcher m = Pattern.compile("OpenBLAS sgemm 2048\\^3 \\(([^)]+) kernels\\), same run: ([0-9.]+) GFLOP/s; op kinds as a fraction of it:(.*)")
                .matcher(r.out());
        if (m.find()) {
            // the kernel set OpenBLAS picked (openblas_get_corename), which decides the reference's speed
            assertTrue(m.group(1).equals("core unknown") || m.group(1).matches("[A-Za-z0-9_]+"), m.group());
            assertTrue(Double.parseDouble(m.group(2)) > 0, m.group());
            for (String kind : new String[] {"conv3x3", "linear", "attention"})
                assertTrue(m.group(3).matches(".* " + kind + " [0-9]+\\.[0-9]{2}.*"), kind + " missing: " + m.group());
        } else {
            assertTrue(r.out().contains("OpenBLAS not found (libopenblas.so.0): no reference sgemm in this run"), r.out());
        }
        // the FMA loop at the kernels' width, measured in the same run on every machine, with the same fractions
        Matcher f = Pattern.compile("FMA loop \\((\\d+)-bit, (\\d+) threads\\), same run: ([0-9.]+) GFLOP/s; op kinds as a fraction of it:(.*)")
                .matcher(r.out());
        assertTrue(f.find(), r.out());
        assertEquals(FmaPeak.vectorBits(), Integer.parseInt(f.group(1)), f.group());
        assertTrue(Integer.parseInt(f.group(2)) >= 1 && Double.parseDouble(f.group(3)) > 0, f.group());
        for (String kind : new String[] {"conv3x3", "linear", "attention"})
            assertTrue(f.group(4).matches(".* " + kind + " [0-9]+\\.[0-9]{2}.*"), kind + " missing: " + f.group());
        // the call shapes that took the most time, slowest first: op kind, shape, calls, seconds, share, GFLOP/s
        int at = r.out().indexOf("op and shape (slowest first)");
        assertTrue(at >= 0, r.out());
        Matcher row = Pattern.compile("(?m)^(conv3x3|conv1x1|conv_other|linear|gemm|attention|group_norm) (\\d+(x\\d+)+) +(\\d+) +([0-9.]+) +([0-9.]+)%")
                .matcher(r.out().substring(at));
        double last = Double.MAX_VALUE;
        int rows = 0;
        boolean sawConv3x3 = false;
        while (row.find()) {
            double seconds = Double.parseDouble(row.group(5));
            assertTrue(seconds <= last, "not slowest first: " + row.group());
            assertTrue(Integer.parseInt(row.group(4)) > 0, row.group());
            last = seconds;
            rows++;
            sawConv3x3 |= row.group(1).equals("conv3x3");
        }
        assertTrue(rows > 0 && rows <= BenchCommand.PROFILE_SHAPES_TEXT, rows + " shape rows in\n" + r.out());
        assertTrue(sawConv3x3, r.out());
    }

    @Test void profileJsonRecordsBothReferences() throws Exception {
        VaeCommandTest.Result r = VaeCommandTest.run("bench", "--model", Golden.resolve("models/tiny-sd1").toString(), "-W", "64", "-H", "64",
                "--steps", "1", "--no-warmup", "--profile", "--json");
        assertEquals(0, r.code(), r.err());
        var o = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertTrue(o.path("fma_loop_gflops").asDouble() > 0, r.out());
        assertEquals(BlasReference.available(), o.has("openblas_sgemm_gflops"), r.out());
        assertTrue(o.path("ops").has("conv3x3"), r.out());
    }

    @Test void withSeveralRunsTheReferencesAreMeasuredAfterEachAndTheFractionsAreMedians() throws Exception {
        VaeCommandTest.Result r = VaeCommandTest.run("bench", "--model", Golden.resolve("models/tiny-sd1").toString(), "-W", "64", "-H", "64",
                "--steps", "1", "--no-warmup", "--profile", "--runs", "3", "--json");
        assertEquals(0, r.code(), r.err());
        var o = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        for (String ref : BlasReference.available() ? new String[] {"fma_loop", "openblas_sgemm"} : new String[] {"fma_loop"}) {
            var each = o.path(ref + "_gflops_runs");
            assertEquals(3, each.size(), ref + ": " + r.out());
            java.util.List<Double> v = new java.util.ArrayList<>();
            each.forEach(x -> v.add(x.asDouble()));
            assertTrue(v.stream().allMatch(x -> x > 0), ref + ": " + v);
            assertEquals(BenchCommand.median(v), o.path(ref + "_gflops").asDouble(), 0.0, ref + ": the median of the runs' rates");
        }
        for (String kind : new String[] {"conv3x3", "linear", "attention"})
            assertTrue(o.path("op_fraction_of_fma_loop").path(kind).asDouble() > 0, kind + ": " + r.out());
        assertEquals(BlasReference.available(), o.has("op_fraction_of_openblas"), r.out());
    }

    @Test void eachRunsFractionIsTakenAgainstItsOwnReferenceThenTheMedian() {
        // conv3x3 at 100, 50 and 80 GFLOP/s in three runs whose references ran at 200, 50 and 100: fractions 0.5, 1.0, 0.8
        java.util.List<BenchCommand.RunProfile> runs = java.util.List.of(
                run(1.0, 100e9, 200), run(2.0, 100e9, 50), run(1.0, 80e9, 100));
        var f = BenchCommand.fractions(runs, BenchCommand.RunProfile::fma);
        assertEquals(0.8, f.get(dev.jdiffusion.kernels.Profiler.Op.CONV3X3), 1e-12);
        assertEquals(1, f.size(), "kinds without FLOPs have no fraction: " + f);
        // a run without the reference (NaN) is left out of the median
        f = BenchCommand.fractions(java.util.List.of(run(1.0, 100e9, Double.NaN), run(1.0, 100e9, 400)), BenchCommand.RunProfile::fma);
        assertEquals(0.25, f.get(dev.jdiffusion.kernels.Profiler.Op.CONV3X3), 1e-12);
        // one run's counters are the change over it
        var before = java.util.Map.of(dev.jdiffusion.kernels.Profiler.Op.LINEAR, new double[] {1.0, 10.0, 2},
                dev.jdiffusion.kernels.Profiler.Op.GROUP_NORM, new double[] {0.5, 0.0, 4});
        var after = java.util.Map.of(dev.jdiffusion.kernels.Profiler.Op.LINEAR, new double[] {1.5, 30.0, 5},
                dev.jdiffusion.kernels.Profiler.Op.GROUP_NORM, new double[] {0.5, 0.0, 4},
                dev.jdiffusion.kernels.Profiler.Op.CONV3X3, new double[] {2.0, 40.0, 1});
        var d = BenchCommand.delta(before, after);
        assertEquals(java.util.Set.of(dev.jdiffusion.kernels.Profiler.Op.LINEAR, dev.jdiffusion.kernels.Profiler.Op.CONV3X3), d.keySet());
        assertEquals(java.util.List.of(0.5, 20.0, 3.0), java.util.Arrays.stream(d.get(dev.jdiffusion.kernels.Profiler.Op.LINEAR)).boxed().toList());
        assertEquals(java.util.List.of(2.0, 40.0, 1.0), java.util.Arrays.stream(d.get(dev.jdiffusion.kernels.Profiler.Op.CONV3X3)).boxed().toList());
    }

    private static BenchCommand.RunProfile run(double seconds, double flops, double fma) {
        var ops = new java.util.EnumMap<dev.jdiffusion.kernels.Profiler.Op, double[]>(dev.jdiffusion.kernels.Profiler.Op.class);
        ops.put(dev.jdiffusion.kernels.Profiler.Op.CONV3X3, new double[] {seconds, flops, 1});
        ops.put(dev.jdiffusion.kernels.Profiler.Op.GROUP_NORM, new double[] {seconds, 0, 1});
        return new BenchCommand.RunProfile(ops, fma, Double.NaN);
    }
}

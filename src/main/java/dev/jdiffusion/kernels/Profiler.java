package dev.jdiffusion.kernels;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Per-op-kind time and FLOP counters for the bench command. Off by default: then {@link #start()} returns 0 and
 * {@link #stop} returns at once. Only the outermost kernel call of a thread is counted (a convolution's inner GEMM
 * is part of the convolution).
 */
public final class Profiler {
    private Profiler() {}

    /** The op kinds reported. */
    public enum Op { CONV3X3, CONV1X1, CONV_OTHER, LINEAR, GEMM, ATTENTION, GROUP_NORM, LAYER_NORM, ACTIVATION, ELEMENTWISE, RESIZE }

    private static volatile boolean enabled;
    private static final AtomicLongArray NANOS = new AtomicLongArray(Op.values().length);
    private static final AtomicLongArray FLOPS = new AtomicLongArray(Op.values().length);
    private static final AtomicLongArray CALLS = new AtomicLongArray(Op.values().length);
    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    public static void enable(boolean on) { enabled = on; }

    public static boolean enabled() { return enabled; }

    public static void reset() {
        SHAPES.clear();
        for (int i = 0; i < NANOS.length(); i++) {
            NANOS.set(i, 0);
            FLOPS.set(i, 0);
            CALLS.set(i, 0);
        }
    }

    /** Marks the start of a kernel call: a timestamp for the outermost call, 0 otherwise or when off. */
    public static long start() {
        if (!enabled) return 0;
        int[] d = DEPTH.get();
        return d[0]++ == 0 ? System.nanoTime() : -1;
    }

    /** Ends a call begun with {@link #start()}, adding its time and FLOPs to op when it was the outermost. */
    public static void stop(Op op, long t0, long flops) {
        stop(op, t0, flops, -1, -1, -1, -1, -1);
    }

    /**
     * As {@link #stop(Op, long, long)}, also adding the call to its shape's row (up to five dimensions; -1 ends them):
     * which shapes of a kind take the time (the shape is formatted only when the call is counted).
     */
    public static void stop(Op op, long t0, long flops, int d0, int d1, int d2, int d3, int d4) {
        if (t0 == 0) return;
        DEPTH.get()[0]--;
        if (t0 < 0) return;
        long dt = System.nanoTime() - t0;
        NANOS.addAndGet(op.ordinal(), dt);
        FLOPS.addAndGet(op.ordinal(), flops);
        CALLS.incrementAndGet(op.ordinal());
        if (d0 < 0) return;
        StringBuilder k = new StringBuilder(op.name().toLowerCase(Locale.ROOT)).append(' ').append(d0);
        for (int d : new int[] {d1, d2, d3, d4}) {
            if (d < 0) break;
            k.append('x').append(d);
        }
        SHAPES.compute(k.toString(), (key, v) -> {
            if (v == null) v = new long[3];
            v[0] += dt;
            v[1] += flops;
            v[2]++;
            return v;
        });
    }

    /** Per op kind and call shape ("conv3x3 640x5760x32x32"): nanoseconds, FLOPs, calls. */
    private static final java.util.concurrent.ConcurrentHashMap<String, long[]> SHAPES = new java.util.concurrent.ConcurrentHashMap<>();

    /** The call shapes that took the most time, at most top of them: key, then seconds, FLOPs, calls. */
    public static java.util.List<Map.Entry<String, double[]>> topShapes(int top) {
        return SHAPES.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), new double[] {e.getValue()[0] / 1e9, e.getValue()[1], e.getValue()[2]}))
                .sorted((a, b) -> a.getValue()[0] != b.getValue()[0] ? Double.compare(b.getValue()[0], a.getValue()[0]) : a.getKey().compareTo(b.getKey()))
                .limit(top).toList();
    }

    /** A text table of the call shapes that took the most time: op and shape, calls, seconds, share, GFLOP/s. */
    public static String shapesTable(int top) {
        double total = 0;
        for (double[] v : snapshot().values()) total += v[0];
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%n%-34s %7s %9s %6s %9s%n", "op and shape (slowest first)", "calls", "seconds", "share", "GFLOP/s"));
        for (Map.Entry<String, double[]> e : topShapes(top)) {
            double[] v = e.getValue();
            sb.append(String.format(Locale.ROOT, "%-34s %7d %9.3f %5.1f%% %9.1f%n", e.getKey(), (long) v[2], v[0], total > 0 ? 100 * v[0] / total : 0,
                    gflops(v)));
        }
        return sb.toString();
    }

    /** {@link #topShapes} as a JSON array of {op, shape, seconds, flops, calls, gflops}. */
    public static com.fasterxml.jackson.databind.node.ArrayNode shapesJson(ObjectMapper m, int top) {
        var a = m.createArrayNode();
        for (Map.Entry<String, double[]> e : topShapes(top)) {
            ObjectNode r = a.addObject();
            int sp = e.getKey().indexOf(' ');
            r.put("op", e.getKey().substring(0, sp));
            r.put("shape", e.getKey().substring(sp + 1));
            putStats(r, e.getValue());
        }
        return a;
    }

    /** seconds, flops, calls, gflops of a row {seconds, FLOPs, calls}. */
    private static void putStats(ObjectNode r, double[] v) {
        r.put("seconds", v[0]);
        r.put("flops", (long) v[1]);
        r.put("calls", (long) v[2]);
        r.put("gflops", gflops(v));
    }

    /** The rate of a row {seconds, FLOPs, calls} in GFLOP/s (0 for no time). */
    private static double gflops(double[] v) { return v[0] > 0 ? v[1] / v[0] / 1e9 : 0; }

    /** Seconds, FLOPs and calls per op kind, non-empty kinds only. */
    public static Map<Op, double[]> snapshot() {
        Map<Op, double[]> m = new EnumMap<>(Op.class);
        for (Op o : Op.values()) {
            long c = CALLS.get(o.ordinal());
            if (c > 0) m.put(o, new double[]{NANOS.get(o.ordinal()) / 1e9, FLOPS.get(o.ordinal()), c});
        }
        return m;
    }

    /** A text table: op, calls, seconds, share of profiled time, GFLOP, GFLOP/s. */
    public static String table() {
        Map<Op, double[]> m = snapshot();
        double total = 0;
        for (double[] v : m.values()) total += v[0];
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%n%-12s %7s %9s %6s %10s %9s%n", "op", "calls", "seconds", "share", "GFLOP", "GFLOP/s"));
        for (Map.Entry<Op, double[]> e : m.entrySet()) {
            double[] v = e.getValue();
            sb.append(String.format(Locale.ROOT, "%-12s %7d %9.3f %5.1f%% %10.1f %9.1f%n", e.getKey().name().toLowerCase(Locale.ROOT),
                    (long) v[2], v[0], 100 * v[0] / total, v[1] / 1e9, gflops(v)));
        }
        return sb.toString();
    }

    public static ObjectNode toJson(ObjectMapper m) {
        ObjectNode o = m.createObjectNode();
        for (Map.Entry<Op, double[]> e : snapshot().entrySet()) {
            putStats(o.putObject(e.getKey().name().toLowerCase(Locale.ROOT)), e.getValue());
        }
        return o;
    }
}

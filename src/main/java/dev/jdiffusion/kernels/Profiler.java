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
        if (t0 == 0) return;
        DEPTH.get()[0]--;
        if (t0 < 0) return;
        NANOS.addAndGet(op.ordinal(), System.nanoTime() - t0);
        FLOPS.addAndGet(op.ordinal(), flops);
        CALLS.incrementAndGet(op.ordinal());
    }

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
                    (long) v[2], v[0], 100 * v[0] / total, v[1] / 1e9, v[0] > 0 ? v[1] / v[0] / 1e9 : 0));
        }
        return sb.toString();
    }

    public static ObjectNode toJson(ObjectMapper m) {
        ObjectNode o = m.createObjectNode();
        for (Map.Entry<Op, double[]> e : snapshot().entrySet()) {
            ObjectNode r = o.putObject(e.getKey().name().toLowerCase(Locale.ROOT));
            r.put("seconds", e.getValue()[0]);
            r.put("flops", (long) e.getValue()[1]);
            r.put("calls", (long) e.getValue()[2]);
            r.put("gflops", e.getValue()[0] > 0 ? e.getValue()[1] / e.getValue()[0] / 1e9 : 0);
        }
        return o;
    }
}

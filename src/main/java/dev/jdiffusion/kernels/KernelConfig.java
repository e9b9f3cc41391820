package dev.jdiffusion.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Locale;

/**
 * The one place where the kernels' per-ISA choices are made, once, at class initialisation, from what the
 * running JVM offers: the vector species C2 compiles to ({@link FloatVector#SPECIES_PREFERRED}: 512 bits with
 * AVX-512, 256 with AVX2 or {@code -XX:UseAVX=2}, 128 with NEON or {@code -XX:MaxVectorSize=16}) and the number
 * of vector registers, read from the VM's {@code UseAVX} flag (x86: 32 registers at UseAVX 3, i.e. AVX-512, else
 * 16; AArch64: 32). Nothing else in the kernels may assume a width, a register count or a tile size.
 *
 * <p>The GEMM micro-kernel shape (rows x vectors of accumulators) must fit the register file with its B vectors
 * and the row broadcasts, which C2 loads ahead of the FMAs: rows x vectors + vectors + rows registers. Measured
 * with {@code MicroDuel} (one thread, panels in cache), GFLOP/s; the Zen 5 columns with A read as rows, the Xeon ones
 * with A k-interleaved, as now (A as rows on the Xeon: 3 x 3 94.7, 6 x 2 148.3, 8 x 2 144.9 at 512 bits):
 * <pre>
 *                     Zen 5 (AMD EPYC)           Xeon with AVX-512 and AMX (Intel, family 6 model 167)
 *   shape  registers  UseAVX=2  512-bit  128-bit  UseAVX=2  512-bit  128-bit
 *   4 x 3  19         52-55     218.8    58.8     64.9      154.5    62.4
 *   6 x 2  20         52-55     216.7    58.3     65.5      172.1    59.5
 *   4 x 2  14         104-107   200.5    52.5     102.1     157.2    55.4
 *   8 x 2  26         66-72     221.1    57.1     78.3      186.4    62.7
 *   3 x 3  15         104-107                     94.5      139.2    57.9
 * </pre>
 * So 16 registers get 3 x 3 (4 x 2 ties it on Zen 5, and in whole GEMMs on the Xeon: sgemm 2048^3 on 2 threads
 * 163.8 / 159.7 against 165.9 / 166.3; shapes over 16 registers spill); 32 registers with 16 lanes get 8 x 2 (whole
 * GEMMs on the Xeon, 2 threads: sgemm 2048^3 261.7 / 263.7 against 226.0 / 229.6 for 6 x 2, conv1x1 320x4096x640
 * 238.8 against 226.0, linear 4096x320x1280 228.1 against 219.6; 4 x 3's 48-column B panel, KC x 48 floats = 48 KiB,
 * does not stay in the Xeon's 48 KiB L1 next to the A panel); 32 registers with fewer lanes (128-bit) get 4 x 3
 * (8 x 2 ties it). The choice does not change any result's bits: every C element is one FMA chain over k ascending
 * in every shape.
 * {@code -Djdiffusion.microKernel=RxV} (e.g. {@code 6x2}) overrides the choice, for benchmarks.
 */
public final class KernelConfig {
    private KernelConfig() {}

    /** The vector species every kernel uses. */
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Float lanes per vector. */
    static final int LANES = SPECIES.length();
    /** The JVM's UseAVX level on x86 (0-3), or -1 where the flag does not exist (other CPUs) or cannot be read. */
    static final int USE_AVX = vmIntFlag("UseAVX");
    /** Vector registers C2 may allocate (the proxy for how many accumulators a micro-kernel may keep). */
    static final int VECTOR_REGISTERS = vectorRegisters(System.getProperty("os.arch"), USE_AVX);
    /** Registers a rows x vectors micro-kernel keeps live: accumulators, B vectors, row broadcasts. */
    static int registersNeeded(int rows, int vectors) { return rows * vectors + vectors + rows; }

    /** The micro-kernel shapes there are (rows x vectors); see {@link MicroKernels}. */
    static final int[][] SHAPES = {{4, 3}, {6, 2}, {4, 2}, {8, 2}, {3, 3}};
    private static final int[] SHAPE = shape(System.getProperty("jdiffusion.microKernel"), VECTOR_REGISTERS, LANES);
    /** Micro-kernel rows (MR) and vectors (NR / LANES). */
    static final int MICRO_ROWS = SHAPE[0], MICRO_VECTORS = SHAPE[1];
    /** Micro-kernel columns (NR). */
    static final int MICRO_COLS = MICRO_VECTORS * LANES;
    /** GEMM K block: the same on every ISA (it fixes the summation order, which {@link FewRows} reproduces). */
    static final int KC = 256;
    /**
     * GEMM row block (packed A, about 96 x KC floats: stays in L2) and column block (packed B, about KC x 3072).
     * A column block sized to half the L2 cache (512 columns here) made isolated Winograd GEMMs 5-15% faster under
     * UseAVX=2 but whole runs 8% slower at 512 bits (conv3x3 378 -> 342 GFLOP/s, medians of 3 interleaved pairs),
     * so 3072 stays. {@code -Djdiffusion.gemmMc} / {@code -Djdiffusion.gemmNc} override them, for benchmarks.
     */
    static final int MC = roundUp(block("jdiffusion.gemmMc", System.getProperty("jdiffusion.gemmMc"), 96), MICRO_ROWS),
            NC = MICRO_COLS * Math.max(1, block("jdiffusion.gemmNc", System.getProperty("jdiffusion.gemmNc"), 3072) / MICRO_COLS);

    /** A block-size override: unset or blank gives the default; anything but a whole number from 1 to 65536 is an error naming it. */
    static int block(String name, String value, int def) {
        if (value == null || value.isBlank()) return def;
        try {
            int v = Integer.parseInt(value.trim());
            if (v >= 1 && v <= 65536) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("-D" + name + "=" + value + ": must be a whole number from 1 to 65536");
    }

    /**
     * The size of the unified or data cache of level 2 listed under dir (sysfs: the level, type and size files of each
     * index directory), or -1. Read only for reports (for comparing CPUs): no kernel shape depends on it.
     */
    static long l2Bytes(java.nio.file.Path dir) {
        try (var entries = java.nio.file.Files.newDirectoryStream(dir, "index*")) {
            for (var e : entries) {
                String level = read(e.resolve("level")), type = read(e.resolve("type")), size = read(e.resolve("size"));
                if (!"2".equals(level) || "Instruction".equals(type) || size == null || size.isEmpty()) continue;
                long unit = 1;
                char last = Character.toUpperCase(size.charAt(size.length() - 1));
                if (last == 'K') unit = 1024;
                else if (last == 'M') unit = 1024 * 1024;
                String digits = Character.isDigit(last) ? size : size.substring(0, size.length() - 1);
                return Long.parseLong(digits.trim()) * unit;
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private static String read(java.nio.file.Path p) throws java.io.IOException {
        return java.nio.file.Files.isReadable(p) ? java.nio.file.Files.readString(p).trim() : null;
    }

    /**
     * Attention query and key tiles: about 64 x 192 on every ISA; queries are the micro-kernel's columns (a multiple
     * of NR), keys its rows (a multiple of MR).
     */
    static final int ATTENTION_QUERIES = roundUp(64, MICRO_COLS), ATTENTION_KEYS = roundUp(192, MICRO_ROWS);

    /** Width of the vectors the kernels use, in bits. */
    public static int vectorBits() { return SPECIES.vectorBitSize(); }

    /** The JVM's UseAVX level, or -1 where there is none (not x86) or it cannot be read. */
    public static int useAvx() { return USE_AVX; }

    /** Vector registers assumed (32 with AVX-512 or on AArch64, else 16). */
    public static int vectorRegisters() { return VECTOR_REGISTERS; }

    /** The micro-kernel chosen, as "rows x columns (rows x vectors)", e.g. "4x48 (4x3 vectors)". */
    public static String microKernel() {
        return MICRO_ROWS + "x" + MICRO_VECTORS * LANES + " (" + MICRO_ROWS + "x" + MICRO_VECTORS + " vectors)";
    }

    /** The shapes chosen (for bench reports): name to value. */
    public static java.util.Map<String, Object> shapes() {
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("micro_kernel", MICRO_ROWS + "x" + MICRO_COLS);
        m.put("micro_rows", MICRO_ROWS);
        m.put("micro_vectors", MICRO_VECTORS);
        m.put("gemm_kc", KC);
        m.put("gemm_mc", MC);
        m.put("gemm_nc", NC);
        m.put("l2_cache_bytes", l2Bytes(java.nio.file.Path.of("/sys/devices/system/cpu/cpu0/cache")));
        m.put("attention_query_tile", ATTENTION_QUERIES);
        m.put("attention_key_tile", ATTENTION_KEYS);
        m.put("winograd", Winograd.ENABLED ? "F(2x2,3x3)" : "off");
        return m;
    }

    private static int roundUp(int x, int m) { return (x + m - 1) / m * m; }

    /** One line for logs and reports. */
    public static String describe() {
        return String.format(Locale.ROOT, "%d-bit vectors, UseAVX %s, %d vector registers, micro-kernel %s", vectorBits(),
                USE_AVX < 0 ? "n/a" : Integer.toString(USE_AVX), VECTOR_REGISTERS, microKernel());
    }

    static int vectorRegisters(String arch, int useAvx) {
        String a = arch == null ? "" : arch.toLowerCase(Locale.ROOT);
        if (a.equals("aarch64") || a.equals("arm64")) return 32;
        if (a.equals("amd64") || a.equals("x86_64")) return useAvx >= 3 ? 32 : 16;
        return 16;
    }

    /**
     * The micro-kernel shape for a register file and vector length, or the override ("RxV", one of {@link #SHAPES}):
     * 16 registers 3 x 3; 32 registers 8 x 2 with 16 lanes, 4 x 3 with fewer (see the class comment).
     */
    static int[] shape(String override, int registers, int lanes) {
        if (override != null && !override.isBlank()) {
            String o = override.trim().toLowerCase(Locale.ROOT);
            for (int[] s : SHAPES)
                if (o.equals(s[0] + "x" + s[1])) return s;
            throw new IllegalArgumentException("-Djdiffusion.microKernel=" + override + ": not one of the shapes 4x3, 6x2, 4x2, 8x2, 3x3");
        }
        if (registers < 32) return new int[] {3, 3};
        return lanes >= 16 ? new int[] {8, 2} : new int[] {4, 3};
    }

    /** An integer VM flag (HotSpot's diagnostic MXBean), or -1 where it does not exist or cannot be read. */
    static int vmIntFlag(String name) {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            if (bean == null) return -1;
            return Integer.parseInt(bean.getVMOption(name).getValue().trim());
        } catch (RuntimeException | LinkageError e) {
            return -1;
        }
    }
}

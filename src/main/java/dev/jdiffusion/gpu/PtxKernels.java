package dev.jdiffusion.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The GPU kernels for what cuBLAS lacks (im2col, group norm + SiLU, softmax, layer norm, GELU, GEGLU, SiLU, per-channel
 * bias), compiled from {@code src/main/cuda/jdiffusion_kernels.cu} to PTX by {@code tools/build-ptx} and shipped as
 * the resource {@value #RESOURCE}. {@link #load(CudaDriver)} JIT-loads the module into the current context and finds
 * every kernel. See the {@code .cu} file for each kernel's parameters and launch shape.
 *
 * <p><b>Untested on a GPU</b>: the PTX is produced and checked here (it contains every kernel's {@code .entry}), but no
 * kernel has run.
 */
public final class PtxKernels {
    /** The PTX resource, next to this class. */
    public static final String RESOURCE = "jdiffusion_kernels.ptx";
    /** The kernels the module must define. */
    public static final List<String> KERNELS = List.of("im2col", "group_norm_silu", "softmax_rows", "layer_norm_rows", "gelu",
            "geglu", "silu", "add_per_channel");

    private static final Pattern ENTRY = Pattern.compile("^\\s*\\.visible\\s+\\.entry\\s+([A-Za-z_$][\\w$]*)\\s*\\(", Pattern.MULTILINE);

    private final long module;
    private final Map<String, Long> functions;

    private PtxKernels(long module, Map<String, Long> functions) {
        this.module = module;
        this.functions = functions;
    }

    /** The PTX text of the module. */
    public static String ptx() {
        try (InputStream in = PtxKernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("resource " + RESOURCE + " missing beside " + PtxKernels.class.getName()
                    + " (run tools/build-ptx)");
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The names of the kernels ({@code .visible .entry}) a PTX text defines, in order. */
    public static List<String> entries(String ptx) {
        List<String> names = new ArrayList<>();
        Matcher m = ENTRY.matcher(ptx);
        while (m.find()) names.add(m.group(1));
        return names;
    }

    /** Loads the module into the driver's current context and looks up every kernel in {@link #KERNELS}. */
    public static PtxKernels load(CudaDriver driver) {
        long module = driver.loadModule(ptx(), RESOURCE);
        Map<String, Long> f = new java.util.HashMap<>();
        for (String k : KERNELS) f.put(k, driver.function(module, k));
        return new PtxKernels(module, Map.copyOf(f));
    }

    /** A kernel's CUfunction, for {@link CudaDriver#launch}. */
    public long function(String name) {
        Long f = functions.get(name);
        if (f == null) throw new IllegalArgumentException("no kernel " + name + " (known: " + KERNELS + ")");
        return f;
    }

    /** The CUmodule. */
    public long module() { return module; }
}

package dev.jdiffusion.gpu;

import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Where compute runs: the CPU, or one CUDA device. {@link #select(String)} takes {@code "cpu"}, {@code "cuda"}
 * (device 0), {@code "cuda:N"} or {@code "auto"}:
 * <ul>
 *   <li>{@code cpu}: the CPU; nothing native is touched.</li>
 *   <li>{@code cuda[:N]}: the CUDA device, or a {@link CudaException} with one line saying what was looked for and
 *       why it is unusable (runtime library not found and where it was looked for, no driver, driver too old, no
 *       GPU, no device N).</li>
 *   <li>{@code auto}: the CUDA device 0 when one is usable, else the CPU with a one-line {@link #note()} saying why.</li>
 * </ul>
 * Selecting a CUDA device only finds and describes it; the pipeline's GPU offload is a later step (see
 * {@link GpuGemm}).
 */
public final class Device {
    /** The kinds of device. */
    public enum Kind { CPU, CUDA }

    /** The CPU, chosen explicitly. */
    public static final Device CPU = new Device(Kind.CPU, null, "cpu");

    private final Kind kind;
    private final CudaDeviceInfo cuda;
    private final String note;

    private Device(Kind kind, CudaDeviceInfo cuda, String note) {
        this.kind = kind;
        this.cuda = cuda;
        this.note = note;
    }

    /** Selects a device with the CUDA runtime found by {@link CudaRuntime#load()}. */
    public static Device select(String spec) {
        return select(spec, CudaRuntime::load);
    }

    /**
     * Selects a device, loading the runtime from {@code runtime} only when {@code spec} is not {@code cpu}.
     *
     * @throws IllegalArgumentException {@code spec} is none of auto, cpu, cuda, cuda:N
     * @throws CudaException            {@code cuda} asked for and not usable
     */
    public static Device select(String spec, Supplier<CudaRuntime> runtime) {
        String s = normalize(spec);
        if (s.equals("cpu")) return CPU;
        if (s.equals("auto")) {
            try {
                Device d = cuda(0, runtime);
                return new Device(Kind.CUDA, d.cuda, "auto: " + d.note);
            } catch (CudaException | LinkageError | IllegalStateException | IllegalCallerException e) {
                return new Device(Kind.CPU, null, "auto: cpu, no usable CUDA device (" + e.getMessage() + ")");
            }
        }
        return cuda(ordinal(s), runtime);
    }

    private static Device cuda(int ordinal, Supplier<CudaRuntime> runtime) {
        CudaRuntime rt = runtime.get();
        int n = rt.deviceCount();
        if (n == 0) throw new CudaException(rt.describe() + " but it reports no CUDA device");
        if (ordinal >= n)
            throw new CudaException("cuda:" + ordinal + " asked for but " + rt.describe() + " sees " + n + " device" + (n == 1 ? "" : "s")
                    + " (cuda:0" + (n > 1 ? " to cuda:" + (n - 1) : "") + ")");
        CudaDeviceInfo info = rt.properties(ordinal);
        return new Device(Kind.CUDA, info, info + "; " + rt.describe() + ", driver supports CUDA " + Native.version(rt.driverVersion()));
    }

    /**
     * The device the pipeline computes on for a {@code ModelOptions.device()} name. For now always the CPU: "cpu" and
     * "auto" return {@link #CPU} without touching native code (auto has nothing to offload to yet); "cuda[:N]" throws,
     * either because no CUDA device is usable (the one-line reason) or because the GPU path is not wired into the
     * pipeline yet.
     *
     * @throws CudaException for "cuda[:N]"
     */
    public static Device forPipeline(String spec) {
        String s = normalize(spec);
        if (s.equals("cpu") || s.equals("auto")) return CPU;
        Device d = select(s);
        throw new CudaException(s + ": found " + d.note() + "; but the GPU path is not wired into the pipeline yet (use device cpu or auto)");
    }

    /**
     * Checks a device name without selecting anything: returns it lower-cased, e.g. {@code "cuda:1"}.
     *
     * @throws IllegalArgumentException not one of auto, cpu, cuda, cuda:N
     */
    public static String normalize(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("auto") || s.equals("cpu") || s.equals("cuda")) return s;
        if (s.startsWith("cuda:")) {
            ordinal(s);
            return s;
        }
        throw new IllegalArgumentException("device must be auto, cpu, cuda or cuda:N, got '" + spec + "'");
    }

    private static int ordinal(String s) {
        if (s.equals("cuda")) return 0;
        try {
            int n = Integer.parseInt(s.substring("cuda:".length()));
            if (n < 0) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("device must be auto, cpu, cuda or cuda:N with N >= 0, got '" + s + "'");
        }
    }

    public Kind kind() { return kind; }

    public boolean isCuda() { return kind == Kind.CUDA; }

    /** The CUDA device's description, empty for the CPU. */
    public Optional<CudaDeviceInfo> cuda() { return Optional.ofNullable(cuda); }

    /** One line: what was selected and, for {@code auto} falling back to the CPU, why. */
    public String note() { return note; }

    @Override public String toString() { return note; }
}

package dev.jdiffusion.cli;

import dev.jdiffusion.gpu.CudaException;
import dev.jdiffusion.gpu.Device;

import java.io.PrintStream;

/**
 * The {@code --device auto|cpu|cuda[:N]} option of generate and bench. {@code cpu} (the default) touches nothing
 * native; {@code auto} prints one line on stderr saying what it found; {@code cuda} fails with one line (exit 1) when
 * no CUDA device is usable, and for now also when one is: the pipeline's GPU offload is not wired yet.
 */
final class DeviceOption {
    private DeviceOption() {}

    /**
     * Checks the option; returns 0 to go on (computing on the CPU), or the exit code after printing one line.
     *
     * @throws UsageException a name other than auto, cpu, cuda, cuda:N
     */
    static int check(Args a, String command, PrintStream err, String usage) {
        String spec;
        try {
            spec = Device.normalize(a.get("--device", "cpu"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + e.getMessage(), usage);
        }
        if (spec.equals("cpu")) return 0;
        Device d;
        try {
            d = Device.select(spec);
        } catch (CudaException | LinkageError | IllegalStateException | IllegalCallerException e) {
            err.println("jdiffusion " + command + ": --device " + spec + ": " + e.getMessage());
            return 1;
        }
        if (spec.equals("auto")) {
            err.println("jdiffusion " + command + ": device " + d.note()
                        + (d.isCuda() ? "; the GPU path is not wired into the pipeline yet, computing on the CPU" : ""));
            return 0;
        }
        err.println("jdiffusion " + command + ": --device " + spec + ": found " + d.note()
                    + "; but the GPU path is not wired into the pipeline yet (use --device cpu or auto)");
        return 1;
    }
}

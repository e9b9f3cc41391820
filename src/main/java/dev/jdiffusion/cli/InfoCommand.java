package dev.jdiffusion.cli;

import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** {@code jdiffusion info PATH}. */
final class InfoCommand {
    private InfoCommand() {}

    static final String USAGE = "usage: jdiffusion info PATH   (a model folder, a checkpoint or any .safetensors file)";

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length != 1 || args[0].startsWith("-")) {
            if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
                out.println(USAGE);
                return 0;
            }
            throw new UsageException(args.length == 0 ? "missing PATH" : "expected one PATH, got " + String.join(" ", args), USAGE);
        }
        Path p;
        try {
            p = Path.of(args[0]);
        } catch (InvalidPathException e) {
            throw new UsageException("not a valid path: " + e.getMessage(), USAGE);
        }
        if (!Files.exists(p)) throw new UsageException("no such file or folder: " + p, USAGE);
        if (Files.isRegularFile(p)) {
            describeFile(p, out);
            return 0;
        }
        throw new UsageException("not a .safetensors file: " + p, USAGE);
    }

    static void describeFile(Path p, PrintStream out) {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Map<DType, Long> counts = new TreeMap<>();
            long params = 0, bytes = 0;
            for (String n : f.names()) {
                TensorView t = f.get(n);
                counts.merge(t.dtype(), 1L, Long::sum);
                params += t.numel();
                bytes += t.numel() * t.dtype().bytes();
            }
            out.println("file:     " + p);
            out.println("tensors:  " + f.names().size());
            out.println("dtypes:   " + counts);
            out.printf("elements: %,d (%s)%n", params, human(bytes));
            if (!f.metadata().isEmpty()) {
                out.println("metadata:");
                f.metadata().forEach((k, v) -> out.println("  " + k + " = " + (v.length() > 200 ? v.substring(0, 200) + "..." : v)));
            }
        }
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] u = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int i = -1;
        do {
            v /= 1024;
            i++;
        } while (v >= 1024 && i < u.length - 1);
        return String.format("%.1f %s", v, u[i]);
    }
}

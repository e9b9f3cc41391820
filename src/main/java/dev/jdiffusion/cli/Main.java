package dev.jdiffusion.cli;

import dev.jdiffusion.weights.ModelFormatException;

import java.io.PrintStream;
import java.util.Arrays;

/** Command-line entry point: {@code jdiffusion COMMAND [options]}. */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: jdiffusion COMMAND [options]
              generate         text-to-image / image-to-image (jdiffusion generate --help)
              bench            end-to-end speed on a model or synthetic SD 1.5 weights (jdiffusion bench --help)
              info PATH        describe a model folder, checkpoint or .safetensors file
              vae encode|decode  images to latents and back (jdiffusion vae --help)
              pull [REPO_ID]   download a diffusers model from the Hugging Face Hub into weights/
              serve            A1111-compatible HTTP API and a web page (jdiffusion serve --help)
              --version        version, JDK and vector width
            run 'jdiffusion COMMAND --help' for a command's options""";

    /** "jdiffusion VERSION", then the JDK and the vector width the kernels use, one line each. */
    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        Runtime.Version rt = Runtime.version();
        return "jdiffusion " + (v == null ? "(development build)" : v) + "\n"
                + "JDK " + rt + " (" + System.getProperty("java.vendor", "?") + ", " + System.getProperty("java.home") + ")\n"
                + "vectors " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit ("
                + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() + " floats), "
                + Runtime.getRuntime().availableProcessors() + " cores, " + System.getProperty("os.arch") + " " + System.getProperty("os.name");
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command; returns the exit code (0 ok, 1 failure, 2 usage error). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            (args.length == 0 ? err : out).println(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        if (args[0].equals("--version") || args[0].equals("version")) {
            out.println(version());
            return 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            return switch (args[0]) {
                case "info" -> InfoCommand.run(rest, out, err);
                case "generate" -> GenerateCommand.run(rest, out, err);
                case "bench" -> BenchCommand.run(rest, out, err);
                case "vae" -> VaeCommand.run(rest, out, err);
                case "pull" -> PullCommand.run(rest, out, err);
                case "serve" -> ServeCommand.run(rest, out, err);
                default -> {
                    err.println("jdiffusion: unknown command '" + args[0] + "'");
                    err.println("see 'jdiffusion --help'");
                    yield 2;
                }
            };
        } catch (UsageException e) {
            // the error and where the options are, not the whole usage (which would scroll the error away)
            err.println("jdiffusion " + args[0] + ": " + e.getMessage());
            err.println("see 'jdiffusion " + args[0] + " --help'");
            return 2;
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            err.println("jdiffusion " + args[0] + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        } catch (IllegalArgumentException e) {
            err.println("jdiffusion " + args[0] + ": " + e.getMessage());
            return 2;
        } catch (java.util.concurrent.CancellationException e) {
            err.println("jdiffusion " + args[0] + ": cancelled");
            return 130;
        } catch (OutOfMemoryError e) {
            err.println("jdiffusion " + args[0] + ": out of memory (" + e.getMessage() + "); try a smaller size or batch, or a larger -Xmx via JDIFFUSION_JAVA_OPTS");
            return 1;
        } catch (ModelFormatException e) {
            err.println("jdiffusion " + args[0] + ": " + e.getMessage());
            return 1;
        }
    }
}

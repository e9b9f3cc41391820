package dev.jdiffusion.cli;

import dev.jdiffusion.hub.FileSelection;
import dev.jdiffusion.hub.HubClient;
import dev.jdiffusion.hub.HubException;
import dev.jdiffusion.hub.HubFile;
import dev.jdiffusion.hub.Progress;
import dev.jdiffusion.hub.RepoListing;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code jdiffusion pull [REPO_ID] [--dir weights] [--endpoint URL] [--revision main]}: downloads the files the
 * engine needs from a diffusers repository on the Hugging Face Hub into {@code <dir>/<name>/}, resuming partial
 * downloads and verifying every file. Endpoint from {@code --endpoint}, else {@code HF_ENDPOINT}, else
 * huggingface.co; token from {@code HF_TOKEN}.
 */
final class PullCommand {
    private PullCommand() {}

    static final String DEFAULT_REPO = "SimianLuo/LCM_Dreamshaper_v7";
    static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    static final String USAGE = """
            usage: jdiffusion pull [REPO_ID] [--dir weights] [--endpoint URL] [--revision main] [--retries 3] [--stall-timeout 60]
              downloads a diffusers model (default %s) into DIR/<name>/: configs, tokenizer and the
              .safetensors weights of unet, vae and text_encoder (fp16 variants when the repository has them).
              Interrupted downloads resume. Environment: HF_ENDPOINT (mirror), HF_TOKEN (gated/private models).""".formatted(DEFAULT_REPO);

    static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, System.getenv(), System.console() != null && out == System.out);
    }

    static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env, boolean terminal) {
        String repo = null, endpoint = null, revision = "main";
        Path dir = Path.of("weights");
        int retries = 3;
        int stall = 60;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-h", "--help" -> {
                    out.println(USAGE);
                    return 0;
                }
                case "--dir" -> dir = Path.of(value(args, ++i, a));
                case "--endpoint" -> endpoint = value(args, ++i, a);
                case "--revision" -> revision = value(args, ++i, a);
                case "--stall-timeout" -> {
                    try {
                        stall = Integer.parseInt(value(args, ++i, a));
                    } catch (NumberFormatException e) {
                        throw new UsageException("--stall-timeout needs a number of seconds", USAGE);
                    }
                    if (stall <= 0) throw new UsageException("--stall-timeout must be > 0", USAGE);
                }
                case "--retries" -> {
                    try {
                        retries = Integer.parseInt(value(args, ++i, a));
                    } catch (NumberFormatException e) {
                        throw new UsageException("--retries needs a number", USAGE);
                    }
                    if (retries < 0) throw new UsageException("--retries must be >= 0", USAGE);
                }
                default -> {
                    if (a.startsWith("-")) throw new UsageException("unknown option " + a, USAGE);
                    if (repo != null) throw new UsageException("more than one REPO_ID: " + repo + " " + a, USAGE);
                    repo = a;
                }
            }
        }
        if (repo == null) repo = DEFAULT_REPO;
        if (endpoint == null) endpoint = env.getOrDefault("HF_ENDPOINT", "");
        if (endpoint.isBlank()) endpoint = DEFAULT_ENDPOINT;
        HubClient hub;
        try {
            HubClient.checkRepoId(repo);
            hub = new HubClient(URI.create(endpoint), env.get("HF_TOKEN"), java.time.Duration.ofSeconds(stall));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage(), USAGE);
        }
        String name = repo.substring(repo.lastIndexOf('/') + 1);
        Path target = dir.resolve(name);
        try {
            out.println("pull: " + repo + " @ " + revision + " from " + hub.endpoint());
            RepoListing listing;
            try {
                listing = hub.list(repo, revision);
            } catch (HubException e) {
                if (!unreachable(e.getCause())) throw e;
                err.println("pull: cannot reach the hub at " + hub.endpoint() + " (" + e.getCause().getClass().getSimpleName()
                        + "); without network, use a model on disk: jdiffusion generate -m PATH, a diffusers folder or a "
                        + "single-file .safetensors checkpoint");
                return 1;
            }
            List<HubFile> want = FileSelection.select(listing.files());
            if (want.stream().noneMatch(f -> f.path().equals("model_index.json")))
                throw new HubException(repo + ": not a diffusers repository (no model_index.json at " + revision + ")");
            for (String comp : FileSelection.WEIGHT_COMPONENTS)
                if (want.stream().noneMatch(f -> f.path().startsWith(comp + "/") && f.path().endsWith(".safetensors")))
                    err.println("pull: warning: no .safetensors weights for " + comp + " in " + repo + " (pickle files are never downloaded)");
            long total = want.stream().mapToLong(f -> Math.max(0, f.size())).sum();
            out.printf("pull: %d files, %s, into %s%s%n", want.size(), humanBytes(total), target,
                    listing.commit() != null ? " (commit " + listing.commit() + ")" : "");
            Progress progress = terminal ? Progress.bar(out) : Progress.lines(out);
            List<String> failures = new ArrayList<>();
            int fetched = 0, present = 0;
            for (HubFile f : want) {
                Path dest = target.resolve(f.path());
                for (int attempt = 0; ; attempt++) {
                    try {
                        HubClient.Result r = hub.download(repo, listing.pinned(), f, dest, progress);
                        if (r == HubClient.Result.ALREADY_PRESENT) present++;
                        else fetched++;
                        break;
                    } catch (HubException e) {
                        boolean transfer = e.getCause() instanceof IOException;
                        if (transfer && attempt < retries) {
                            err.println("pull: " + e.getMessage() + "; retrying (" + (attempt + 1) + "/" + retries + ")");
                            continue;
                        }
                        failures.add(e.getMessage());
                        err.println("pull: " + e.getMessage());
                        break;
                    }
                }
            }
            if (!failures.isEmpty()) {
                err.println("pull: " + failures.size() + " of " + want.size() + " files failed; run the same command again to resume");
                return 1;
            }
            out.println("pull: done: " + target + " (" + fetched + " downloaded, " + present + " already present)");
            return 0;
        } catch (HubException e) {
            err.println("pull: " + e.getMessage());
            return 1;
        }
    }

    /** True for the failures of having no network or no route to the hub (not an HTTP error from it). */
    static boolean unreachable(Throwable t) {
        for (; t != null; t = t.getCause())
            if (t instanceof java.net.ConnectException || t instanceof java.net.UnknownHostException
                    || t instanceof java.net.NoRouteToHostException || t instanceof java.net.http.HttpConnectTimeoutException)
                return true;
        return false;
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) throw new UsageException(option + " needs a value", USAGE);
        return args[i];
    }

    private static String humanBytes(long b) { return InfoCommand.human(b); }
}

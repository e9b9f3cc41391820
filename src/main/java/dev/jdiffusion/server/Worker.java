package dev.jdiffusion.server;

import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.CancellationToken;
import dev.jdiffusion.pipeline.GenerationException;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.ProgressListener;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.weights.ModelFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The job queue and the one thread that runs it: jobs run one at a time in arrival order (each generation already
 * uses every core), and the worker owns the loaded model, so switching models never races a generation. It talks
 * to the engine only through the public {@link StableDiffusion} API.
 */
final class Worker {
    /** A finished generation: base64 PNGs with their seeds and parameters texts. */
    record Result(List<String> images, List<Long> seeds, List<String> infotexts, Job.Stop stop,
                  StableDiffusion.Resolved resolved, String model) {}

    private final ServerConfig config;
    private final Catalog catalog;
    private final Metrics metrics;
    private final ArrayDeque<Job> queue = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private volatile Job running;
    private volatile StableDiffusion sd;
    private volatile Catalog.Entry loaded;
    private volatile boolean accepting = true, stopped;
    private final Thread thread;

    Worker(ServerConfig config, Catalog catalog, Metrics metrics) {
        this.config = config;
        this.catalog = catalog;
        this.metrics = metrics;
        this.thread = Thread.ofPlatform().name("jdiffusion-server-worker").unstarted(this::loop);
    }

    /** Loads the start model (on the caller's thread), then starts taking jobs. */
    void start() {
        load(Catalog.entry(config.model()));
        thread.start();
    }

    boolean ready() { return sd != null; }

    Catalog.Entry loaded() { return loaded; }

    StableDiffusion model() { return sd; }

    Job running() { return running; }

    int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Queues a job, or refuses it with 503 and a Retry-After when the queue is full or the server is shutting down.
     */
    void submit(Job job) {
        lock.lock();
        try {
            if (!accepting) {
                metrics.rejected("shutting_down");
                throw new HttpError(503, "ShuttingDown", "the server is shutting down", null, Map.of("Retry-After", "30"));
            }
            if (queue.size() >= config.queue() && (running != null || !queue.isEmpty())) {
                metrics.rejected("queue_full");
                long retry = Math.max(1, Math.round(averageJobSeconds() * (queue.size() + 1)));
                throw new HttpError(503, "QueueFull", "the queue is full (" + queue.size() + " waiting, --queue " + config.queue()
                        + "); retry later", null, Map.of("Retry-After", String.valueOf(retry)));
            }
            queue.addLast(job);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops a job: taken out of the queue when it waits, cancelled when it runs. */
    void stop(Job job, Job.Stop why) {
        job.stop(why);
        boolean removed;
        lock.lock();
        try {
            removed = queue.remove(job);
        } finally {
            lock.unlock();
        }
        if (removed) finish(job, null, why);
    }

    private double averageJobSeconds() {
        long n = metrics.jobs.values().stream().mapToLong(java.util.concurrent.atomic.AtomicLong::get).sum();
        return n == 0 ? 5 : metrics.jobSeconds.sum() / n;
    }

    private void loop() {
        while (true) {
            Job job;
            lock.lock();
            try {
                while (queue.isEmpty() && !stopped) changed.awaitUninterruptibly();
                if (stopped && queue.isEmpty()) return;
                job = queue.pollFirst();
                running = job;
            } finally {
                lock.unlock();
            }
            try {
                run(job);
            } catch (Throwable t) { // never lose the worker
                job.done.completeExceptionally(t);
            } finally {
                lock.lock();
                try {
                    running = null;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    private void run(Job job) {
        long t0 = System.nanoTime();
        job.startNanos = t0;
        if (job.stop != Job.Stop.NONE) {
            finish(job, null, job.stop);
            return;
        }
        try {
            if (job.kind == Job.Kind.SWITCH_MODEL) {
                Catalog.Entry e = catalog.find(job.modelName);
                switchTo(e);
                metrics.job("model_switched", (System.nanoTime() - t0) / 1e9);
                job.done.complete(e);
                return;
            }
            A1111.Spec spec = job.spec;
            if (spec.model() != null) switchTo(catalog.find(spec.model()));
            if (sd == null) throw new HttpError(503, "ModelNotLoaded", "no model is loaded (the last switch failed); choose one with sd_model_checkpoint");
            Result r = generate(job, spec);
            metrics.job(r.stop() == Job.Stop.NONE ? "completed" : r.stop().name().toLowerCase(java.util.Locale.ROOT),
                    (System.nanoTime() - t0) / 1e9);
            job.done.complete(r);
        } catch (HttpError e) {
            metrics.job("failed", (System.nanoTime() - t0) / 1e9);
            job.done.completeExceptionally(e);
        } catch (IllegalArgumentException e) {
            metrics.job("failed", (System.nanoTime() - t0) / 1e9);
            job.done.completeExceptionally(HttpError.invalid(e.getMessage()));
        } catch (GenerationException e) {
            metrics.job("failed", (System.nanoTime() - t0) / 1e9);
            job.done.completeExceptionally(new HttpError(507, "OutOfMemory", e.getMessage()));
        } catch (ModelFormatException | UncheckedIOException e) {
            metrics.job("failed", (System.nanoTime() - t0) / 1e9);
            job.done.completeExceptionally(new HttpError(500, "ModelError", e.getMessage()));
        }
    }

    private void finish(Job job, Result r, Job.Stop why) {
        metrics.job(why.name().toLowerCase(java.util.Locale.ROOT), 0);
        job.done.complete(r != null ? r : new Result(List.of(), List.of(), List.of(), why, null, loaded == null ? null : loaded.title()));
    }

    private Result generate(Job job, A1111.Spec spec) {
        List<String> images = new ArrayList<>(), infotexts = new ArrayList<>();
        List<Long> seeds = new ArrayList<>();
        StableDiffusion model = sd;
        StableDiffusion.Resolved resolved = null;
        for (int i = 0; i < spec.images(); i++) {
            if (job.stop != Job.Stop.NONE) break;
            job.imageNo = i;
            job.step = 0;
            job.steps = 0;
            CancellationToken token = new CancellationToken();
            job.current = token;
            if (job.stop != Job.Stop.NONE) token.cancel();
            long[] last = {0};
            int index = i;
            GenerationRequest req = request(spec, i, e -> {
                job.steps = e.total();
                job.step = e.step();
                if (e.preview() != null) {
                    job.preview = e.preview();
                    job.previewStep = index * 100_000 + e.step();
                }
                long el = e.elapsed().toNanos();
                metrics.stepSeconds.add((el - last[0]) / 1e9);
                metrics.steps.incrementAndGet();
                last[0] = el;
            }, token);
            if (resolved == null) resolved = model.resolve(req);
            GenerationResult r;
            try {
                r = model.generate(req);
            } catch (CancellationException e) {
                if (job.skip && job.stop == Job.Stop.NONE) {
                    job.skip = false;
                    continue;
                }
                break;
            }
            try {
                images.add(Base64.getEncoder().encodeToString(Images.pngBytes(r.images().get(0), Map.of("parameters", r.parameters()))));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            seeds.add(r.seed());
            infotexts.add(r.parameters());
            metrics.images.incrementAndGet();
        }
        job.current = null;
        return new Result(images, seeds, infotexts, job.stop, resolved, loaded.title());
    }

    /** The engine request for image {@code i} of a spec: batch 1, seed + i. */
    static GenerationRequest request(A1111.Spec spec, int i, ProgressListener progress, CancellationToken token) {
        GenerationRequest.Builder b = GenerationRequest.builder(spec.prompt()).negativePrompt(spec.negative()).sampler(spec.sampler())
                .batch(1).clipSkip(spec.clipSkip()).eta(spec.eta()).seed(spec.seed() + i).previews(true).progress(progress).cancellation(token);
        if (spec.steps() > 0) b.steps(spec.steps());  // 0: the model's default
        if (spec.width() > 0) b.width(spec.width());
        if (spec.height() > 0) b.height(spec.height());
        if (!Float.isNaN(spec.cfg())) b.guidanceScale(spec.cfg());
        if (spec.init() != null) b.initImage(spec.init()).strength(spec.strength());
        if (spec.mask() != null) b.mask(spec.mask()).maskBlur(spec.maskBlur());
        return b.build();
    }

    /**
     * Checks a spec against the loaded model before it is queued: prompt length, sizes, and a heap estimate that can
     * never fit. Skipped when the job switches models first (the worker checks again when it runs).
     */
    void precheck(A1111.Spec spec) {
        StableDiffusion model = sd;
        if (model == null || (spec.model() != null && !catalog.find(spec.model()).path().toAbsolutePath().normalize()
                .equals(loaded.path().toAbsolutePath().normalize()))) return;
        try {
            GenerationRequest req = request(spec, 0, ProgressListener.NONE, new CancellationToken());
            StableDiffusion.Resolved r = model.resolve(req);
            model.estimateMemory(req).requireFits(r.width() + "x" + r.height());
        } catch (IllegalArgumentException e) {
            throw HttpError.invalid(e.getMessage());
        }
    }

    private void load(Catalog.Entry e) {
        ModelOptions o = ModelOptions.of(e.path());
        if (config.loraDir() != null) o = o.withLoraDir(config.loraDir()); // <lora:NAME:WEIGHT> prompt tags
        if (config.taesd() != null) o = o.withTaesd(config.taesd());
        sd = StableDiffusion.load(o);
        loaded = e;
    }

    /** Loads another model in place of the current one (closing it first: one model in memory at a time). */
    private void switchTo(Catalog.Entry e) {
        if (loaded != null && loaded.path().toAbsolutePath().normalize().equals(e.path().toAbsolutePath().normalize()) && sd != null) return;
        Catalog.Entry previous = loaded;
        StableDiffusion old = sd;
        sd = null;
        if (old != null) old.close();
        try {
            load(e);
        } catch (RuntimeException failure) {
            loaded = null;
            if (previous != null) {
                try {
                    load(previous);
                } catch (RuntimeException ignored) { /* stays unloaded: /health says so */ }
            }
            throw new HttpError(500, "ModelLoadFailed", "cannot load model '" + e.title() + "': " + failure.getMessage());
        }
    }

    /**
     * Graceful stop: refuses new jobs, lets queued and running ones finish for up to {@code timeout}, then cancels what
     * is left, ends the worker thread and closes the model.
     */
    void shutdown(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            accepting = false;
            while ((running != null || !queue.isEmpty()) && System.nanoTime() < deadline)
                changed.awaitNanos(Math.max(1, deadline - System.nanoTime()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
        List<Job> left;
        lock.lock();
        try {
            left = new ArrayList<>(queue);
            queue.clear();
            stopped = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Job j : left) {
            j.stop(Job.Stop.SHUTDOWN);
            finish(j, null, Job.Stop.SHUTDOWN);
        }
        Job r = running;
        if (r != null) r.stop(Job.Stop.SHUTDOWN);
        if (thread.isAlive()) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        StableDiffusion m = sd;
        sd = null;
        if (m != null) m.close();
    }
}

package dev.jdiffusion.model.clip;

import java.nio.file.Path;

/**
 * A quick (not a unit test) timing of the tokenizer on a 75-token prompt, cold and warm:
 * {@code java -cp ... dev.jdiffusion.model.clip.ClipTokenizerSpeed path/to/tokenizer}.
 */
public final class ClipTokenizerSpeed {
    public static void main(String[] args) {
        Path dir = Path.of(args.length > 0 ? args[0] : "../shared/golden/models/tiny-sd1/tokenizer");
        long t0 = System.nanoTime();
        ClipTokenizer tok = ClipTokenizer.load(dir);
        long t1 = System.nanoTime();
        String prompt = "a highly detailed digital painting of an ancient castle on a cliff above a stormy sea, dramatic lighting, "
                + "volumetric fog, crashing waves, seagulls circling the towers, a lone knight on horseback approaching the gate, "
                + "banners flapping in the wind, intricate stonework, moss and ivy, lightning in the distance, cinematic composition, golden hour, trending on artstation, by greg rutkowski";
        long t2 = System.nanoTime();
        int n = tok.tokenize(prompt).length;
        long t3 = System.nanoTime();
        System.out.printf("load %.1f ms; first tokenize (%d tokens, cold JIT and cache) %.3f ms%n", (t1 - t0) / 1e6, n, (t3 - t2) / 1e6);
        int sink = 0;
        for (int round = 0; round < 3; round++) {
            int iters = 20000;
            long s = System.nanoTime();
            for (int i = 0; i < iters; i++) sink += tok.encode(prompt)[i % 77];
            long e = System.nanoTime();
            System.out.printf("encode (warm, cached words): %.2f us per prompt%n", (e - s) / 1e3 / iters);
        }
        // Uncached words: a fresh word each call.
        int iters = 20000;
        long s = System.nanoTime();
        for (int i = 0; i < iters; i++) sink += tok.tokenize("uncached" + Integer.toString(i, 26).replaceAll("[0-9]", "x") + " castle")[0];
        long e = System.nanoTime();
        System.out.printf("tokenize with one new word per call: %.2f us%n", (e - s) / 1e3 / iters);
        System.out.println("(sink " + sink + ")");
    }
}

package dev.jdiffusion.pipeline;

import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ModelFormatException;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorView;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Textual-inversion embeddings, loaded as diffusers' {@code load_textual_inversion} does: each file adds tokens to
 * the tokenizer and rows to the text encoder's token-embedding table (ids after the vocabulary, in load order). An
 * embedding of N vectors named t becomes the tokens t, t_1, ... t_{N-1}, and t in a prompt stands for all of them.
 * Formats: A1111 {@code <trigger>.safetensors} with {@code emb_params} [N, hidden] (the trigger word is the file
 * name), and diffusers {@code learned_embeds.safetensors} whose only key is the token ([hidden] or [1, hidden]).
 * Pickle files ({@code .pt}, {@code .bin}) are refused.
 */
final class Embeddings {
    private Embeddings() {}

    /** The tokenizer and text encoder with the embeddings added. */
    record Added(ClipTokenizer tokenizer, ClipTextEncoder encoder, List<String> tokens) {}

    static Added apply(ClipTokenizer tok, ClipTextEncoder enc, ModelOptions.Adapters adapters) {
        List<Path> files = new ArrayList<>(adapters.embeddings());
        if (adapters.embeddingDir() != null) {
            if (!Files.isDirectory(adapters.embeddingDir()))
                throw new IllegalArgumentException(adapters.embeddingDir() + ": embedding folder not found (--embedding-dir)");
            try (Stream<Path> s = Files.list(adapters.embeddingDir())) {
                s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")).sorted().forEach(files::add);
            } catch (IOException e) {
                throw new UncheckedIOException(adapters.embeddingDir() + ": cannot list the embedding folder", e);
            }
        }
        List<String> tokens = new ArrayList<>();
        int hidden = enc.config().hiddenSize();
        for (Path f : files) {
            if (!Files.isRegularFile(f)) throw new IllegalArgumentException(f + ": embedding file not found (--embedding)");
            Checkpoint.refusePickle(f);
            String token;
            float[] rows;
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                TensorView t;
                if (sf.contains("emb_params")) {
                    t = sf.get("emb_params");
                    String n = f.getFileName().toString();
                    token = n.substring(0, n.length() - ".safetensors".length());
                } else if (sf.names().size() == 1) {
                    token = sf.names().iterator().next();
                    t = sf.get(token);
                } else {
                    throw new ModelFormatException(f + ": not a textual-inversion embedding (expected emb_params, or one tensor named by its token; "
                            + "found " + sf.names().stream().limit(4).toList() + (sf.contains("clip_l") ? ": an SDXL embedding" : "") + ")");
                }
                long last = t.rank() == 0 ? 0 : t.dim(-1);
                if (!t.dtype().isFloating() || t.rank() < 1 || t.rank() > 2 || last != hidden)
                    throw new ModelFormatException(f + ": embedding " + t + " does not fit this text encoder's width " + hidden
                            + " (an embedding for another model family?)");
                rows = t.toFloatArray();
            }
            int n = rows.length / hidden, first = enc.tokenCount();
            if (tok.inVocabulary(token) || tokens.contains(token))
                throw new IllegalArgumentException(f + ": token '" + token + "' is already in the vocabulary; rename the file");
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = first + i;
            tok = tok.withAddedToken(token, ids);
            for (int i = 1; i < n; i++) tok = tok.withAddedToken(token + "_" + i, first + i);
            enc = enc.withAddedEmbeddings(rows);
            tokens.add(token);
        }
        return new Added(tok, enc, List.copyOf(tokens));
    }
}

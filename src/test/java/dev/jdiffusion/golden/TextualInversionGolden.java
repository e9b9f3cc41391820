package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.pipeline.ModelComponents;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.weights.SafetensorsFile;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Golden kind "textual_inversion": loads the model with the case's embedding files in load order (as the pipeline
 * does, {@link ModelOptions#withEmbedding}); compares the appended token-embedding rows, every prompt's ids (exact,
 * 77 positions padded with the tokenizer's pad id) and the text encoder's last_hidden_state (README tolerance).
 */
final class TextualInversionGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) throws Exception {
        String name = caseDir.getFileName().toString();
        ModelOptions opts = ModelOptions.of(Golden.resolve(info.get("model").asText()));
        for (JsonNode f : info.get("load_order")) opts = opts.withEmbedding(Golden.resolve(f.asText()));
        double tol = GoldenTolerances.of(name, "last_hidden_state");
        Path f64 = caseDir.resolve("expected_f64.safetensors");
        try (ModelComponents mc = ModelComponents.load(opts);
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"));
             SafetensorsFile exact = Files.isRegularFile(f64) ? Golden.open(f64) : null) {
            ClipTokenizer tok = mc.tokenizer();
            ClipTextEncoder enc = mc.textEncoder();
            Golden.compare(name + " added_embeddings", exp.get("added_embeddings").toFloatArray(), enc.addedEmbeddings(), 0);
            long[] want = exp.get("input_ids").toLongArray();
            int n = info.get("prompts").size(), seq = want.length / n;
            int[][] ids = new int[n][];
            long[] got = new long[want.length];
            for (int p = 0; p < n; p++) {
                ids[p] = tok.encode(info.get("prompts").get(p).get("text").asText(), seq, tok.padId());
                for (int i = 0; i < seq; i++) got[p * seq + i] = ids[p][i];
            }
            assertEquals(info.get("pad_token_id").asInt(), tok.padId(), name + ": pad id");
            Golden.compareExact(name + " input_ids", want, got);
            float[] h = enc.encodeAll(ids, false).lastHiddenState().data();
            Golden.compare(name + " last_hidden_state", exp.get("last_hidden_state").toFloatArray(), h, tol);
            if (exact != null && exact.contains("last_hidden_state"))
                Golden.compare(name + " last_hidden_state vs f64", exact.get("last_hidden_state").toFloatArray(), h, tol);
        }
    }
}

package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.model.clip.EncoderOutput;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind {@code text_encoder}: the model folder and config folder named in info.json, all prompts' ids in one
 * batch; every expected tensor (last_hidden_state, penultimate_hidden_state_normed, pooled_output, hidden_states.N)
 * within the README's 1e-5. Also checks that {@code encode(ids, clipSkip)} is the same as encodeAll's outputs.
 */
final class TextEncoderGolden implements GoldenKind {

    @Override
    public void run(Path caseDir, JsonNode info) {
        check(caseDir, info, null, caseDir.getFileName().toString());
    }

    /**
     * Runs the case with the encoder's weights from {@code given} (null: the folder info.json names) and the case's
     * config; label names the run in the printed lines. Returns every expected output by name.
     */
    static java.util.Map<String, float[]> check(Path caseDir, JsonNode info, TensorSource given, String label) {
        Path modelDir = Golden.resolve(info.get("model").asText());
        Path configDir = Golden.resolve(info.path("config").asText(info.get("model").asText()));
        JsonNode config = Golden.json(configDir.resolve("config.json"));
        double TOL = GoldenTolerances.of(caseDir.getFileName().toString(), "hidden states");
        java.util.Map<String, float[]> outputs = new java.util.TreeMap<>();
        try (TensorSource weights = given != null ? null : Checkpoint.openWeights(modelDir);
             SafetensorsFile inputs = SafetensorsFile.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile expected = SafetensorsFile.open(caseDir.resolve("expected.safetensors"))) {
            ClipTextEncoder enc = ClipTextEncoder.load(given != null ? given : weights, config);
            if (info.has("hidden_act"))
                assertEquals(info.get("hidden_act").asText().toUpperCase(), enc.config().activation().name(), "activation");
            TensorView idsView = inputs.get("input_ids");
            int batch = Math.toIntExact(idsView.dim(0)), seq = Math.toIntExact(idsView.dim(1));
            long[] flat = idsView.toLongArray();
            int[][] ids = new int[batch][seq];
            for (int b = 0; b < batch; b++) for (int i = 0; i < seq; i++) ids[b][i] = Math.toIntExact(flat[b * seq + i]);
            if (info.has("pad_token_id")) {
                int pad = info.get("pad_token_id").asInt();
                assertEquals(pad, ids[0][seq - 1], label + ": the first prompt's last position should be the pad id");
            }

            Path tokDir = modelDir.getParent().resolve("tokenizer");
            if (info.has("prompts") && info.has("pad_token_id") && Files.isRegularFile(tokDir.resolve("vocab.json"))) {
                ClipTokenizer tok = ClipTokenizer.load(tokDir);
                for (int b = 0; b < batch; b++) {
                    int[] mine = tok.encode(info.get("prompts").get(b).get("text").asText(), seq, info.get("pad_token_id").asInt());
                    assertArrayEquals(ids[b], mine, label + ": tokenizer ids of prompt " + b);
                }
                System.out.printf("golden %-48s exact for %d prompts%n", label + " tokenizer ids", batch);
            }

            EncoderOutput out = enc.encodeAll(ids, true);
            int compared = 0;
            for (String key : expected.names()) {
                Tensor actual = switch (key) {
                    case "last_hidden_state" -> out.lastHiddenState();
                    case "penultimate_hidden_state_normed" -> out.penultimateNormed();
                    case "pooled_output" -> out.pooledOutput();
                    default -> key.startsWith("hidden_states.") ? out.hiddenStates().get(Integer.parseInt(key.substring(14))) : null;
                };
                if (actual == null) fail(label + ": unknown expected tensor " + key);
                TensorView e = expected.get(key);
                assertArrayEquals(Golden.shape(e), actual.shape(), label + " " + key + " shape");
                Golden.compare(label + " " + key, e.toFloatArray(), actual.data(), TOL);
                outputs.put(key, actual.data());
                compared++;
            }
            assertEquals(expected.names().size(), compared);
            Path f64 = caseDir.resolve("expected_f64.safetensors");
            if (Files.isRegularFile(f64)) try (SafetensorsFile exact = SafetensorsFile.open(f64)) {
                for (String key : exact.names()) {
                    float[] e = exact.get(key).toFloatArray();
                    Tensor a = key.equals("last_hidden_state") ? out.lastHiddenState()
                            : key.equals("pooled_output") ? out.pooledOutput()
                            : key.equals("penultimate_hidden_state_normed") ? out.penultimateNormed() : null;
                    if (a != null) Golden.compare(label + " " + key + " vs f64", e, a.data(), TOL);
                }
            }
            // Same computation; not compared bit for bit because the Vector API's float reduceLanes(ADD) may sum in
            // another order once C2 compiles the GEMM (seen: the first call differs from later ones by ~3e-7).
            Golden.compare(label + " encode(ids, 1)", out.lastHiddenState().data(), enc.encode(ids, 1).data(), TOL);
            if (out.penultimateNormed() != null)
                Golden.compare(label + " encode(ids, 2)", out.penultimateNormed().data(), enc.encode(ids, 2).data(), TOL);
        }
        return outputs;
    }
}

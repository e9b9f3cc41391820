package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.model.clip.ClipTokenizer;
import dev.jdiffusion.model.clip.EncoderOutput;
import dev.jdiffusion.pipeline.SdxlConditioner;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind {@code text_encoder_pair} (SDXL): the two encoders named in info.json ({@code text_encoder},
 * {@code text_encoder_2}), each with its own tokenizer (checked against the reference ids); every expected tensor
 * ({@code <encoder>.hidden_states.i}, penultimate_hidden_state, last_hidden_state, pooled_output, text_embeds) and
 * the conditioner's prompt_embeds / pooled_prompt_embeds, within the README's tolerance.
 */
final class TextEncoderPairGolden implements GoldenKind {

    @Override
    public void run(Path caseDir, JsonNode info) {
        check(caseDir, info, null, caseDir.getFileName().toString());
    }

    /**
     * Runs the case with the encoders' weights from {@code given} (both encoders, under transformers' names; null:
     * the folders named in info.json), each with its folder's config; label names the run in the printed lines.
     * Returns every output by its expected name.
     */
    static Map<String, Tensor> check(Path caseDir, JsonNode info, TensorSource[] given, String label) {
        double tol = GoldenTolerances.of(caseDir.getFileName().toString(), "all outputs");
        String[] encoders = {"text_encoder", "text_encoder_2"};
        String[] idKeys = {"input_ids", "input_ids_2"};
        Map<String, Tensor> actual = new HashMap<>();
        ClipTextEncoder[] enc = new ClipTextEncoder[2];
        int[][][] ids = new int[2][][];
        TensorSource[] weights = new TensorSource[2];
        try (SafetensorsFile inputs = SafetensorsFile.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile expected = SafetensorsFile.open(caseDir.resolve("expected.safetensors"))) {
            for (int e = 0; e < 2; e++) {
                JsonNode ei = info.get(encoders[e]);
                Path folder = Golden.resolve(ei.get("folder").asText());
                if (given == null) weights[e] = Checkpoint.openWeights(folder);
                enc[e] = ClipTextEncoder.load(given != null ? given[e] : weights[e], Golden.json(folder.resolve("config.json")));
                assertEquals(ei.get("hidden_act").asText().toUpperCase(), enc[e].config().activation().name(), encoders[e] + " activation");
                ids[e] = ids(inputs.get(idKeys[e]));
                ClipTokenizer tok = ClipTokenizer.load(Golden.resolve(ei.get("tokenizer").asText()));
                assertEquals(ei.get("pad_token_id").asInt(), tok.padId(), encoders[e] + " tokenizer pad id");
                for (int b = 0; b < ids[e].length; b++)
                    assertArrayEquals(ids[e][b], tok.encode(info.get("prompts").get(b).get("text").asText()),
                            label + ": " + encoders[e] + " tokenizer ids of prompt " + b);
                System.out.printf("golden %-48s exact for %d prompts%n", label + " " + encoders[e] + " tokenizer ids", ids[e].length);

                EncoderOutput out = enc[e].encodeAll(ids[e], true);
                String p = encoders[e] + ".";
                for (int i = 0; i < out.hiddenStates().size(); i++) actual.put(p + "hidden_states." + i, out.hiddenStates().get(i));
                actual.put(p + "penultimate_hidden_state", enc[e].encodeHidden(ids[e], 1, false).hidden());
                actual.put(p + "last_hidden_state", out.lastHiddenState());
                actual.put(p + "pooled_output", out.pooledOutput());
                if (enc[e].hasProjection()) actual.put(p + "text_embeds", enc[e].textEmbeds(out.pooledOutput()));
            }
            SdxlConditioner.Embeddings c = new SdxlConditioner(enc[0], enc[1]).encodeIds(ids[0], ids[1]);
            actual.put("prompt_embeds", c.context());
            actual.put("pooled_prompt_embeds", c.textEmbeds());

            int compared = 0;
            for (String key : expected.names()) {
                Tensor a = actual.get(key);
                if (a == null) fail(label + ": no output for expected tensor " + key);
                TensorView e = expected.get(key);
                assertArrayEquals(Golden.shape(e), a.shape(), label + " " + key + " shape");
                Golden.compare(label + " " + key, e.toFloatArray(), a.data(), tol);
                compared++;
            }
            assertTrue(compared > 0, label + ": nothing compared");
            Path f64 = caseDir.resolve("expected_f64.safetensors");
            if (Files.isRegularFile(f64)) try (SafetensorsFile exact = SafetensorsFile.open(f64)) {
                for (String key : new String[]{"prompt_embeds", "pooled_prompt_embeds"})
                    if (exact.contains(key)) Golden.compare(label + " " + key + " vs f64", exact.get(key).toFloatArray(), actual.get(key).data(), tol);
            }
            return actual;
        } finally {
            for (TensorSource w : weights) if (w != null) w.close();
        }
    }

    static int[][] ids(TensorView v) {
        int batch = Math.toIntExact(v.dim(0)), seq = Math.toIntExact(v.dim(1));
        long[] flat = v.toLongArray();
        int[][] ids = new int[batch][seq];
        for (int b = 0; b < batch; b++) for (int i = 0; i < seq; i++) ids[b][i] = Math.toIntExact(flat[b * seq + i]);
        return ids;
    }
}

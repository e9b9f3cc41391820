package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.lora.LoraApplier;
import dev.jdiffusion.lora.LoraFile;
import dev.jdiffusion.pipeline.ModelComponents;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.SafetensorsFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden kind "lora": loads the case's model once, checks that every key of every LoRA file resolves to the weight
 * key_map.json names, then for each run sets the run's LoRAs (one after the other, at their scales; switching between
 * runs without reloading) and compares the U-Net's noise_pred per sub-case and the text encoder's last_hidden_state,
 * against the float32 and float64 references, within the README's tolerances.
 */
final class LoraGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) throws Exception {
        String name = caseDir.getFileName().toString();
        double tolUnet = GoldenTolerances.of(name, "U-Net noise_pred");
        double tolTe = GoldenTolerances.of(name, "text encoder last_hidden_state");
        JsonNode keyMap = Golden.json(caseDir.resolve("key_map.json"));
        Path f64 = caseDir.resolve("expected_f64.safetensors");
        try (SafetensorsFile in = Golden.open(caseDir.resolve("inputs.safetensors"));
             SafetensorsFile exp = Golden.open(caseDir.resolve("expected.safetensors"));
             SafetensorsFile exact = Files.isRegularFile(f64) ? Golden.open(f64) : null;
             ModelComponents mc = ModelComponents.load(ModelOptions.of(Golden.resolve(info.get("model").asText())))) {
            Map<String, LoraFile> files = new HashMap<>();
            for (JsonNode l : info.get("loras")) {
                String rel = l.get("file").asText();
                LoraFile f = LoraFile.open(Golden.resolve(rel));
                files.put(rel, f);
                checkKeyMap(name, mc, f, keyMap.get(rel));
            }
            int compared = 0;
            for (JsonNode run : info.get("runs")) {
                String tag = run.get("tag").asText();
                List<LoraApplier.Weighted> list = new ArrayList<>();
                for (JsonNode l : run.get("loras")) list.add(new LoraApplier.Weighted(files.get(l.get("file").asText()), (float) l.get("scale").asDouble()));
                mc.applyLoras(list);
                for (String sub : UnetGolden.subcases(in)) {
                    Tensor out = mc.unet().forward(Tensor.of(in.get(sub + ".sample")), in.get(sub + ".timestep").toFloatArray(),
                            Tensor.of(in.get(sub + ".encoder_hidden_states")), null);
                    String key = tag + "." + sub + ".noise_pred";
                    Golden.compare(name + " " + key, exp.get(key).toFloatArray(), out.data(), tolUnet);
                    if (exact != null && exact.contains(key)) Golden.compare(name + " " + key + " vs f64", exact.get(key).toFloatArray(), out.data(), tolUnet);
                    compared++;
                }
                String teKey = tag + ".te.last_hidden_state";
                if (exp.contains(teKey)) {
                    long[] flat = in.get("te.input_ids").toLongArray();
                    int batch = Math.toIntExact(in.get("te.input_ids").dim(0)), seq = flat.length / batch;
                    int[][] ids = new int[batch][seq];
                    for (int b = 0; b < batch; b++) for (int i = 0; i < seq; i++) ids[b][i] = Math.toIntExact(flat[b * seq + i]);
                    Tensor te = mc.textEncoder().encodeAll(ids, false).lastHiddenState();
                    Golden.compare(name + " " + teKey, exp.get(teKey).toFloatArray(), te.data(), tolTe);
                    if (exact != null && exact.contains(teKey)) Golden.compare(name + " " + teKey + " vs f64", exact.get(teKey).toFloatArray(), te.data(), tolTe);
                    compared++;
                }
            }
            assertTrue(compared > 0, name + ": nothing compared");
            mc.applyLoras(List.of());
        }
    }

    /** Every key of the file resolves to the component and weight key_map.json names, and the map lists every key. */
    private static void checkKeyMap(String name, ModelComponents mc, LoraFile f, JsonNode map) {
        assertTrue(map != null && map.isObject(), name + ": key_map.json has no entry for " + f.path().getFileName());
        Map<String, List<Map.Entry<String, JsonNode>>> byModule = new HashMap<>();
        for (var it = map.fields(); it.hasNext(); ) {
            var e = it.next();
            byModule.computeIfAbsent(moduleOf(e.getKey()), k -> new ArrayList<>()).add(e);
        }
        int checked = 0;
        for (LoraFile.Module m : f.modules()) {
            String weight = mc.loraWeightFor(f, m);
            String component = m.component().name().toLowerCase(Locale.ROOT);
            // Every key of the module (down, up, alpha) names the same weight in the map.
            int keys = 0;
            for (var e : byModule.getOrDefault(moduleOf(m.key()), List.of())) {
                assertEquals(e.getValue().get("weight").asText(), weight, name + ": " + e.getKey());
                assertEquals(e.getValue().get("component").asText(), component, name + ": component of " + e.getKey());
                keys++;
            }
            assertTrue(keys >= 2, name + ": key_map.json lacks the keys of " + m.key());
            checked += keys;
        }
        assertEquals(map.size(), checked, name + ": key_map.json keys of " + f.path().getFileName() + " vs the file's modules");
        System.out.printf("golden %-48s %d keys resolve as key_map.json says%n", name + " " + f.path().getFileName(), checked);
    }

    private static String moduleOf(String key) {
        String[] s = {".lora_down.weight", ".lora_up.weight", ".alpha", ".lora_A.weight", ".lora_B.weight", ".lora.down.weight",
                ".lora.up.weight", ".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"};
        for (String x : s) if (key.endsWith(x)) return key.substring(0, key.length() - x.length());
        return key;
    }
}

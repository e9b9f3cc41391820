package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.pipeline.GenerationRequest;
import dev.jdiffusion.pipeline.GenerationResult;
import dev.jdiffusion.pipeline.ModelOptions;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.model.unet.ControlNetModel;
import dev.jdiffusion.model.unet.UNetResiduals;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.ControlNetKeys;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden kind "single_file": the original-layout checkpoint must present every tensor under the diffusers name
 * that key_map.json gives, with bytes identical to the diffusers folder's (up to the documented reshapes), and a
 * generation from it must be bit-identical to one from the folder.
 */
final class SingleFileGolden implements GoldenKind {

    @Override public void run(Path caseDir, JsonNode info) throws Exception {
        Path file = Golden.resolve(info.path("file").asText());
        Path folder = Golden.resolve(info.path("made_from").asText());
        JsonNode keyMap = Golden.json(caseDir.resolve("key_map.json"));
        if (info.has("num_tensors")) assertEquals(info.get("num_tensors").asInt(), keyMap.size(), "key_map size vs info.num_tensors");
        if (info.path("components").has("controlnet")) {
            controlNet(caseDir, file, folder, keyMap);
            return;
        }

        keyMap(file, folder, keyMap, info);

        // 2. The same generation from both layouts is bit-identical. The folder gives the configs that shapes cannot.
        GenerationRequest req = GenerationRequest.builder("a photo of an astronaut riding a horse on mars").steps(2).seed(7)
                .size(64, 64).build();
        float[] a, b;
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(folder))) {
            a = sd.generate(req).images().get(0).data();
        }
        try (StableDiffusion sd = StableDiffusion.load(ModelOptions.of(file).withConfig(folder))) {
            GenerationResult r = sd.generate(req);
            b = r.images().get(0).data();
        }
        assertArrayEquals(a, b, "single file vs folder: images differ");
        System.out.printf("golden %-48s identical over %d values%n", caseDir.getFileName() + " generation", a.length);

        // 3. The golden cases of the folder's parts, run from the single file: within their tolerances, equal to the folder's.
        int cases = SingleFileOutputs.run(caseDir.getFileName().toString(), file, folder, info);
        System.out.printf("golden %-48s %d cases of %s reproduced from the single file%n", caseDir.getFileName() + " outputs", cases,
                folder.getFileName());
        assertTrue(cases > 0, caseDir.getFileName() + ": no golden case uses " + folder + ": the single file's outputs were compared with nothing");
    }

    /**
     * Every original key maps to the stated component and diffusers key(s), and the mapped tensor holds the folder's
     * values: the same bytes where the dtypes agree, the same float32 values where the file is float16 (the README
     * says the folder's weights are exactly representable), in the folder's shape (after the documented reshape, the
     * q/k/v split of a fused in_proj, or the transpose of OpenCLIP's text_projection).
     */
    private static void keyMap(Path file, Path folder, JsonNode keyMap, JsonNode info) {
        Map<String, Map<String, String>> expected = new HashMap<>();
        Map<String, Integer> transforms = new TreeMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = keyMap.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            Map<String, String> comp = expected.computeIfAbsent(v.path("component").asText(), k -> new HashMap<>());
            if (v.has("diffusers_keys")) for (JsonNode k : v.get("diffusers_keys")) comp.put(k.asText(), e.getKey());
            else comp.put(v.path("diffusers_key").asText(), e.getKey());
            transforms.merge(v.path("transform").asText(v.path("reshape").asBoolean() ? "reshape" : "none"), 1, Integer::sum);
        }
        if (info.has("transforms")) {
            Map<String, Integer> stated = new TreeMap<>();
            info.get("transforms").fields().forEachRemaining(e -> stated.put(e.getKey(), e.getValue().asInt()));
            assertEquals(stated, transforms, "key_map.json transforms vs info.json");
        }
        int checked = 0;
        boolean converted = false;
        try (Checkpoint single = Checkpoint.open(file); Checkpoint diff = Checkpoint.open(folder)) {
            assertEquals(Checkpoint.Layout.SINGLE_FILE, single.layout());
            for (Map.Entry<String, Map<String, String>> comp : expected.entrySet()) {
                TensorSource s = single.tensors(comp.getKey()), d = diff.tensors(comp.getKey());
                Set<String> missing = new TreeSet<>(comp.getValue().keySet());
                missing.removeAll(s.names());
                Set<String> extra = new TreeSet<>(s.names());
                extra.removeAll(comp.getValue().keySet());
                if (!missing.isEmpty() || !extra.isEmpty())
                    fail(comp.getKey() + ": mapping differs from key_map.json; missing " + first(missing) + ", unexpected " + first(extra));
                for (Map.Entry<String, String> k : comp.getValue().entrySet()) {
                    TensorView a = s.get(k.getKey()), b = d.find(k.getKey());
                    String what = comp.getKey() + " " + k.getKey() + " (from " + k.getValue() + ")";
                    if (b == null) fail(what + ": key_map.json maps it, but the diffusers folder has no such tensor to compare with");
                    assertArrayEquals(b.shape(), a.shape(), what + ": shape");
                    assertEquals(single.singleFile().get(k.getValue()).dtype(), a.dtype(), what + ": the file's dtype is used in place");
                    if (a.dtype() == b.dtype()) {
                        assertEquals(-1L, a.segment().mismatch(b.segment()), what + ": bytes differ from the folder's");
                    } else {
                        converted = true;
                        float[] x = a.toFloatArray(), y = b.toFloatArray();
                        for (int i = 0; i < x.length; i++)
                            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(y[i]))
                                fail(what + ": element " + i + " is " + x[i] + " (" + a.dtype() + ") but the folder's is " + y[i] + " (" + b.dtype() + ")");
                    }
                    checked++;
                }
            }
        }
        System.out.printf("golden %-48s %d tensors mapped (transforms %s), %s%n", file.getFileName() + " key map", checked, transforms,
                converted ? "values identical to the folder's after conversion to float32" : "bytes identical");
        assertTrue(checked > 0);
    }

    /**
     * A ControlNet file (lllyasviel's naming): every key maps to the key_map's diffusers name with the folder's bytes,
     * and the residuals of the controlnet case that uses the folder are bit-identical from both (the file's
     * hyperparameters come from the folder's config.json, as the golden README says).
     */
    private static void controlNet(Path caseDir, Path file, Path folder, JsonNode keyMap) throws Exception {
        String name = caseDir.getFileName().toString();
        try (SafetensorsFile f = SafetensorsFile.open(file); TensorSource d = Checkpoint.openWeights(folder)) {
            TensorSource view = ControlNetKeys.diffusersView(f);
            Map<String, String> want = new HashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = keyMap.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                assertEquals("controlnet", e.getValue().path("component").asText(), e.getKey());
                want.put(e.getValue().path("diffusers_key").asText(), e.getKey());
            }
            assertEquals(new TreeSet<>(want.keySet()), new TreeSet<>(view.names()), name + ": mapped names differ from key_map.json");
            assertEquals(new TreeSet<>(d.names()), new TreeSet<>(view.names()), name + ": mapped names differ from the folder's");
            for (String k : want.keySet()) {
                TensorView a = view.get(k), b = d.get(k);
                assertArrayEquals(b.shape(), a.shape(), k + ": shape");
                assertEquals(b.dtype(), a.dtype(), k + ": dtype");
                assertEquals(-1L, a.segment().mismatch(b.segment()), k + ": bytes differ from the folder's");
            }
            System.out.printf("golden %-48s %d tensors mapped, bytes identical%n", name + " key map", want.size());

            JsonNode cfg = Golden.json(folder.resolve("config.json"));
            ControlNetModel fromFile, fromFolder;
            try (dev.jdiffusion.pipeline.ControlNet loaded = dev.jdiffusion.pipeline.ControlNet.load(file, folder)) {
                fromFile = loaded.model();
                fromFolder = ControlNetModel.load(d, cfg);
                int compared = 0;
                for (Path c : Golden.caseDirs()) {
                    JsonNode ci = Golden.json(c.resolve("info.json"));
                    if (!ci.path("kind").asText().equals("controlnet") || !Golden.resolve(ci.path("model").asText()).equals(folder)) continue;
                    try (SafetensorsFile in = Golden.open(c.resolve("inputs.safetensors"))) {
                        for (String sub : UnetGolden.subcases(in)) {
                            UNetResiduals a = ControlNetGolden.residuals(fromFile, in, sub, null), b = ControlNetGolden.residuals(fromFolder, in, sub, null);
                            for (int i = 0; i < a.down().size(); i++) assertArrayEquals(b.down().get(i).data(), a.down().get(i).data(), sub + " residual " + i);
                            assertArrayEquals(b.mid().data(), a.mid().data(), sub + " mid residual");
                            compared++;
                        }
                    }
                }
                assertTrue(compared > 0, name + ": no controlnet case uses " + folder);
                System.out.printf("golden %-48s residuals identical to the folder's on %d sub-cases%n", name + " outputs", compared);
            }
        }
    }

    private static String first(Set<String> s) {
        return s.isEmpty() ? "none" : s.size() + " (first " + s.iterator().next() + ")";
    }
}

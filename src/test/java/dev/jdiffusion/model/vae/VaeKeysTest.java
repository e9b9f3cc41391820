package dev.jdiffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;
import dev.jdiffusion.weights.VaeKeys;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VaeKeysTest {
    /** Every VAE entry of the golden key map (original key -> diffusers key, reshape flag), reproduced exactly. */
    @Test
    void mapsEveryVaeKeyOfTheGoldenKeyMap() {
        int cases = 0;
        for (Path c : Golden.caseDirs()) {
            if (!Golden.json(c.resolve("info.json")).path("kind").asText().equals("single_file")) continue;
            JsonNode map = Golden.json(c.resolve("key_map.json"));
            boolean hasVae = false;
            for (JsonNode v : map) hasVae |= v.path("component").asText().equals("vae");
            if (!hasVae) continue; // a file of another component (e.g. a ControlNet)
            cases++;
            String prefix = Checkpoint.singlePrefix(Checkpoint.VAE);
            List<String> wrong = new ArrayList<>();
            int n = 0, reshaped = 0;
            try (SafetensorsFile file = SafetensorsFile.open(Golden.resolve(Golden.json(c.resolve("info.json")).get("file").asText()))) {
                for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) map::fields) {
                    String orig = e.getKey();
                    boolean vae = e.getValue().path("component").asText().equals("vae");
                    if (!orig.startsWith(prefix)) {
                        assertTrue(!vae, orig);
                        continue;
                    }
                    String want = e.getValue().path("diffusers_key").asText();
                    String got = VaeKeys.toDiffusers(orig.substring(prefix.length()));
                    if (!want.equals(got)) wrong.add(orig + " -> " + got + " (want " + want + ")");
                    boolean reshape = e.getValue().path("reshape").asBoolean();
                    // reshaped exactly where the file stores a projection with 1x1 dimensions (SD 1.x's converter also
                    // writes the biases as [c, 1, 1]; SDXL's keeps them [c])
                    TensorView stored = file.get(orig);
                    assertEquals(reshape, !Arrays.equals(stored.shape(), VaeKeys.adapt(stored.renamed(want)).shape()), want);
                    if (reshape) assertTrue(VaeKeys.isReshaped(want), want);
                    if (reshape) reshaped++;
                    n++;
                }
            }
            assertTrue(wrong.isEmpty(), wrong.size() + " keys mapped wrong, e.g. " + wrong.subList(0, Math.min(5, wrong.size())));
            assertTrue(n > 0, "no vae keys in " + c);
            System.out.println("VaeKeys: " + n + " vae keys of " + c.getFileName() + " mapped exactly, " + reshaped + " attention tensors reshaped");
        }
        assertTrue(cases > 0, "no single-file golden case with vae keys");
    }

    @Test
    void dropsKeysThatAreNotPartOfTheModel() {
        assertNull(VaeKeys.toDiffusers("loss.discriminator.main.0.weight"));
        assertNull(VaeKeys.toDiffusers("decoder.mid.attn_1.q.extra"));
        assertNull(VaeKeys.toDiffusers("encoder.down.0.block.0.foo.weight"));
        assertEquals("decoder.up_blocks.0.resnets.0.conv1.weight", VaeKeys.toDiffusers("decoder.up.2.block.0.conv1.weight", 3));
    }

    /** The single-file checkpoint's VAE, mapped and reshaped, decodes bit-identically to the diffusers folder's. */
    @Test
    void singleFileDecodesIdenticallyToTheFolder() {
        Path folder = Golden.resolve("models/tiny-sd1/vae");
        Path single = Golden.resolve("models/tiny-sd1.safetensors");
        try (TensorSource a = Checkpoint.openWeights(folder); SafetensorsFile b = SafetensorsFile.open(single);
             Checkpoint ck = Checkpoint.open(single)) {
            TensorSource mapped = VaeKeys.diffusersView(b, "first_stage_model.");
            assertEquals(new HashSet<>(a.names()), new HashSet<>(mapped.names()));
            for (String n : a.names()) {
                TensorView x = a.get(n), y = mapped.get(n);
                assertArrayEquals(x.shape(), y.shape(), n);
                assertArrayEquals(x.toFloatArray(), y.toFloatArray(), n);
            }
            // the same through the project's checkpoint opener
            Set<String> viaCheckpoint = new HashSet<>(ck.tensors(Checkpoint.VAE).names());
            assertEquals(new HashSet<>(a.names()), viaCheckpoint);
            JsonNode cfg = Golden.json(folder.resolve("config.json"));
            AutoencoderKL v1 = AutoencoderKL.load(a, cfg), v2 = AutoencoderKL.load(ck.tensors(Checkpoint.VAE), cfg);
            Tensor z = VaeTestData.latent(1, 4, 5, 7, 3);
            assertArrayEquals(v1.decode(z).data(), v2.decode(z).data());
        }
    }
}

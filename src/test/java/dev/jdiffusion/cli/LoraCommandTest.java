package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code generate --lora / --lora-dir / <lora:..> / --embedding} on the tiny golden model and its LoRA files. */
class LoraCommandTest {
    static final Path LORAS = Golden.resolve("models/loras");

    @Test void loraFlagAndPromptTagGiveTheSameImageAndNameTheLoraInTheParameters(@TempDir Path dir) throws IOException {
        Path plain = dir.resolve("plain.png"), flag = dir.resolve("flag.png"), tag = dir.resolve("tag.png");
        assertEquals(0, GenerateCommandTest.run(GenerateCommandTest.gen(plain, "--quiet")).code());
        VaeCommandTest.Result r = GenerateCommandTest.run(GenerateCommandTest.gen(flag, "--quiet", "--lora", LORAS.resolve("locon.safetensors") + ":0.8"));
        assertEquals(0, r.code(), r.err());
        String p = Images.readPngText(flag).get("parameters");
        assertTrue(p.contains("Lora hashes: \"locon: "), p);
        String[] withTag = GenerateCommandTest.gen(tag, "--quiet", "--lora-dir", LORAS.toString());
        withTag[Arrays.asList(withTag).indexOf("-p") + 1] = "a cabin <lora:locon:0.8> in the snow";
        r = GenerateCommandTest.run(withTag);
        assertEquals(0, r.code(), r.err());
        // The tag is removed before encoding ("a cabin in the snow"), so the two runs are the same computation.
        assertArrayEquals(Images.toUint8(Images.read(flag)), Images.toUint8(Images.read(tag)));
        assertFalse(Arrays.equals(Images.toUint8(Images.read(plain)), Images.toUint8(Images.read(flag))), "the LoRA changed nothing");
        assertTrue(Images.readPngText(tag).get("parameters").startsWith("a cabin <lora:locon:0.8> in the snow"));
    }

    @Test void badAdaptersAreOneLineErrorsNamingTheFlag(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.png");
        VaeCommandTest.Result r = GenerateCommandTest.run(GenerateCommandTest.gen(out, "--lora", dir.resolve("missing.safetensors") + ":0.5"));
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--lora") && r.err().contains("not found"), r.err());
        String[] tagNoDir = GenerateCommandTest.gen(out);
        tagNoDir[Arrays.asList(tagNoDir).indexOf("-p") + 1] = "a cabin <lora:locon:1>";
        r = GenerateCommandTest.run(tagNoDir);
        assertTrue(r.code() != 0 && r.err().contains("--lora-dir"), r.err());
        // A file that is not a LoRA: the error names its first key.
        r = GenerateCommandTest.run(GenerateCommandTest.gen(out, "--lora", Golden.resolve("models/embeddings/tinystyle.safetensors").toString()));
        assertTrue(r.code() != 0 && r.err().contains("emb_params"), r.err());
        r = GenerateCommandTest.run(GenerateCommandTest.gen(out, "--embedding", dir.resolve("x.pt").toString()));
        assertEquals(2, r.code());
        assertFalse(Files.exists(out), "nothing written on error");
    }

    @Test void embeddingTriggerWordChangesTheImage(@TempDir Path dir) throws IOException {
        Path a = dir.resolve("a.png"), b = dir.resolve("b.png");
        String[] with = GenerateCommandTest.gen(a, "--quiet", "--embedding", Golden.resolve("models/embeddings/tinystyle.safetensors").toString());
        with[Arrays.asList(with).indexOf("-p") + 1] = "a cabin in the snow, tinystyle";
        assertEquals(0, GenerateCommandTest.run(with).code());
        String[] without = GenerateCommandTest.gen(b, "--quiet");
        without[Arrays.asList(without).indexOf("-p") + 1] = "a cabin in the snow, tinystyle";
        assertEquals(0, GenerateCommandTest.run(without).code());
        assertFalse(Arrays.equals(Images.toUint8(Images.read(a)), Images.toUint8(Images.read(b))));
    }
}

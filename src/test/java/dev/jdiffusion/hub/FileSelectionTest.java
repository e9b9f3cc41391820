package dev.jdiffusion.hub;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileSelectionTest {
    private static List<String> select(String... paths) {
        return FileSelection.select(java.util.Arrays.stream(paths).map(p -> new HubFile(p, 1, null, null)).toList())
                .stream().map(HubFile::path).toList();
    }

    @Test void prefersFp16AndNeverPickles() {
        List<String> s = select("model_index.json", "README.md", ".gitattributes",
                "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
                "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.fp16.bin",
                "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.bin",
                "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/pytorch_model.bin",
                "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json",
                "scheduler/scheduler_config.json", "safety_checker/model.safetensors", "safety_checker/config.json",
                "feature_extractor/preprocessor_config.json", "v1-5-pruned.ckpt", "v1-5-pruned.safetensors");
        assertEquals(List.of("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors",
                "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
                "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json",
                "scheduler/scheduler_config.json"), s);
    }

    @Test void shardedSets() {
        List<String> plain = select("unet/diffusion_pytorch_model.safetensors.index.json",
                "unet/diffusion_pytorch_model-00001-of-00002.safetensors", "unet/diffusion_pytorch_model-00002-of-00002.safetensors");
        assertEquals(3, plain.size());
        List<String> fp16 = select("unet/diffusion_pytorch_model.safetensors.index.json",
                "unet/diffusion_pytorch_model-00001-of-00002.safetensors", "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
                "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors");
        assertEquals(List.of("unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors"), fp16);
    }

    @Test void unsafePaths() {
        for (String p : new String[]{"/etc/passwd", "../x", "unet/../../x", "unet//x", "a\\b", "./model_index.json", "", "c:x"})
            assertFalse(FileSelection.isSafePath(p), p);
        assertTrue(FileSelection.isSafePath("unet/config.json"));
        assertEquals(List.of(), select("../model_index.json", "unet/../model_index.json"));
    }
}

package dev.jdiffusion.golden;

import java.util.Map;
import java.util.TreeMap;

/** The registry of golden kinds the engine can run: one line per kind, keyed by info.json's "kind". */
final class GoldenKinds {
    private GoldenKinds() {}

    static Map<String, GoldenKind> all() {
        Map<String, GoldenKind> m = new TreeMap<>();
        // Each model issue adds its kind here.
        m.put("tokenizer", new TokenizerGolden());
        m.put("text_encoder", new TextEncoderGolden());
        m.put("text_encoder_pair", new TextEncoderPairGolden());
        m.put("unet", new UnetGolden());
        m.put("rng", new RngGolden());
        m.put("schedulers", new SchedulersGolden());
        m.put("pipeline", new PipelineGolden());
        m.put("single_file", new SingleFileGolden());
        m.put("vae", new VaeGolden());
        m.put("taesd", new TaesdGolden());
        m.put("controlnet", new ControlNetGolden());
        m.put("lora", new LoraGolden());
        m.put("textual_inversion", new TextualInversionGolden());
        return m;
    }
}

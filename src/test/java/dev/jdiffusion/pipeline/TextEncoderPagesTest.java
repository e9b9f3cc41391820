package dev.jdiffusion.pipeline;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.model.clip.ClipTextEncoder;
import dev.jdiffusion.weights.Checkpoint;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A loaded model drops each text encoder layer's weight pages once the layer has run (ModelComponents): encodings
 * stay bit for bit those of an encoder that keeps its pages, and the layers are told in order as they run.
 */
class TextEncoderPagesTest {
    @Test void layersReleasedAsTheyRunChangeNothing() {
        Path model = Golden.resolve("models/tiny-sdxl");
        try (ModelComponents parts = ModelComponents.load(ModelOptions.of(model));
             Checkpoint ck = Checkpoint.open(model)) {
            ClipTextEncoder released = parts.sdxl().textEncoder2();
            ClipTextEncoder kept = ClipTextEncoder.load(ck.tensors(Checkpoint.TEXT_ENCODER_2), ck.config(Checkpoint.TEXT_ENCODER_2));
            int[][] ids = {parts.sdxl().tokenizer2().encode("a photo of a cat"), parts.sdxl().tokenizer2().encode("")};
            for (int round = 0; round < 2; round++) { // the second reads the dropped pages again
                ClipTextEncoder.Hidden a = released.encodeHidden(ids, 1, true), b = kept.encodeHidden(ids, 1, true);
                assertArrayEquals(b.hidden().data(), a.hidden().data());
                assertArrayEquals(b.textEmbeds().data(), a.textEmbeds().data());
            }
            List<Integer> seen = new ArrayList<>();
            kept.onLayerDone(seen::add).encodeHidden(ids, 1, false);
            List<Integer> want = new ArrayList<>();
            for (int i = 0; i < kept.config().numLayers() - 1; i++) want.add(i);
            assertEquals(want, seen, "without the pooled output the last layer does not run");
        }
    }
}

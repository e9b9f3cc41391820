package dev.jdiffusion.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jdiffusion.pipeline.prompt.PromptWeights;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Fuzzes the prompt-weighting parser ((text:1.3), [text], escapes, BREAK): any prompt parses, nothing is thrown. */
class PromptWeightsFuzzTest {
    @DictionaryEntries({"(", ")", "[", "]", ":", "\\\\", "BREAK", ":1.3)", ":1e999)", ":-0)", ":NaN)"})
    @FuzzTest(maxDuration = "30s")
    void parse(byte[] input) {
        if (input == null) return;
        String prompt = Outcomes.text(input);
        Outcomes.expectResultOrDocumented(() -> {
            List<PromptWeights.Fragment> f = PromptWeights.parse(prompt);
            for (PromptWeights.Fragment x : f) assertNotNull(x.text());
        });
    }
}

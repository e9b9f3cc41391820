package dev.jdiffusion.pipeline.prompt;

import dev.jdiffusion.pipeline.prompt.PromptWeights.Fragment;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Expected values are those of A1111's parse_prompt_attention (its doctests and a few more). */
class PromptWeightsTest {

    private static Fragment f(String t, double w) { return new Fragment(t, w); }

    @Test
    void plainText() {
        assertEquals(List.of(f("normal text", 1.0)), PromptWeights.parse("normal text"));
        assertEquals(List.of(f("", 1.0)), PromptWeights.parse(""));
    }

    @Test
    void roundAndSquareBrackets() {
        assertEquals(List.of(f("an ", 1.0), f("important", 1.1), f(" word", 1.0)), PromptWeights.parse("an (important) word"));
        assertEquals(List.of(f("a ", 1.0), f("quiet", 1 / 1.1)), PromptWeights.parse("a [quiet]"));
        assertEquals(List.of(f("unnecessaryparens", 1.1)), PromptWeights.parse("(unnecessary)(parens)"));
    }

    @Test
    void unbalancedAndStray() {
        assertEquals(List.of(f("unbalanced", 1.1)), PromptWeights.parse("(unbalanced"));
        assertEquals(List.of(f("a) b]", 1.0)), PromptWeights.parse("a) b]"));
    }

    @Test
    void escapes() {
        assertEquals(List.of(f("(literal]", 1.0)), PromptWeights.parse("\\(literal\\]"));
        assertEquals(List.of(f("a\\b", 1.0)), PromptWeights.parse("a\\\\b"));
    }

    @Test
    void explicitWeightsAndNesting() {
        List<Fragment> r = PromptWeights.parse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).");
        assertEquals(List.of(
                f("a ", 1.0), f("house", 1.5730000000000004), f(" ", 1.1), f("on", 1.0), f(" a ", 1.1),
                f("hill", 0.55), f(", sun, ", 1.1), f("sky", 1.4641000000000006), f(".", 1.1)), r);
        assertEquals(List.of(f("cat", 1.3)), PromptWeights.parse("(cat:1.3)"));
        assertEquals(List.of(f("cat ", 0.5)), PromptWeights.parse("(cat : 0.5 )"));
        assertEquals(List.of(f("x", -1.0), f("y", 1.0)), PromptWeights.parse("(x:-1)y"));
    }

    @Test
    void colonWithoutWeightIsText() {
        assertEquals(List.of(f("style: photo", 1.0)), PromptWeights.parse("style: photo"));
        assertEquals(List.of(f("a:1.2)", 1.0)), PromptWeights.parse("a:1.2)"));
    }

    @Test
    void breakKeyword() {
        List<Fragment> r = PromptWeights.parse("a cat BREAK a dog");
        assertEquals(3, r.size());
        assertEquals("a cat", r.get(0).text());
        assertTrue(r.get(1).isBreak());
        assertEquals("a dog", r.get(2).text());
        assertFalse(PromptWeights.parse("BREAKFAST").getFirst().isBreak());
    }

    @Test
    void nullRejected() {
        assertThrows(IllegalArgumentException.class, () -> PromptWeights.parse(null));
    }
}

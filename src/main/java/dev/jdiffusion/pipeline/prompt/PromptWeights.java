package dev.jdiffusion.pipeline.prompt;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Parses AUTOMATIC1111-style attention syntax in a prompt into text fragments with weights:
 * <ul>
 *   <li>{@code (text)} multiplies the weight by 1.1, {@code [text]} divides it by 1.1; brackets nest;</li>
 *   <li>{@code (text:1.3)} multiplies by the given number;</li>
 *   <li>{@code \(}, {@code \)}, {@code \[}, {@code \]}, {@code \\} are literal characters;</li>
 *   <li>unclosed brackets apply to the rest of the prompt, stray closing brackets are text;</li>
 *   <li>the word {@code BREAK} (upper case) splits the prompt into separately encoded chunks
 *   ({@link Fragment#isBreak()}).</li>
 * </ul>
 * Adjacent fragments with equal weights are merged. Results match A1111's {@code parse_prompt_attention}, e.g.
 * {@code "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."} gives
 * {@code [a |1.0, house|1.573, " "|1.1, on|1.0, " a "|1.1, hill|0.55, ", sun, "|1.1, sky|1.4641, .|1.1]}.
 */
public final class PromptWeights {
    private PromptWeights() {}

    /**
     * A piece of prompt text and its attention weight.
     *
     * @param text   the text (unescaped)
     * @param weight the multiplier for its token embeddings (1.0 = neutral); -1 marks a BREAK
     */
    public record Fragment(String text, double weight) {
        /** The marker fragment A1111 uses for BREAK. */
        public static final Fragment BREAK = new Fragment("BREAK", -1);

        /** Whether this fragment is a BREAK (start a new 75-token chunk) rather than text. */
        public boolean isBreak() { return weight == -1 && "BREAK".equals(text); }
    }

    private static final double ROUND = 1.1;
    private static final double SQUARE = 1 / 1.1;
    private static final Pattern BREAK = Pattern.compile("\\s*\\bBREAK\\b\\s*");
    private static final Pattern WEIGHT_CLOSE = Pattern.compile(":\\s*([+-]?[.0-9]+)\\s*\\)");

    /** Parses a prompt; never fails (malformed syntax degrades to text, as in A1111). */
    public static List<Fragment> parse(String prompt) {
        if (prompt == null) throw new IllegalArgumentException("prompt is null");
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        List<Integer> round = new ArrayList<>(), square = new ArrayList<>();
        int i = 0, n = prompt.length();
        while (i < n) {
            char c = prompt.charAt(i);
            if (c == '\\') {
                if (i + 1 < n && "()[]\\".indexOf(prompt.charAt(i + 1)) >= 0) {
                    add(texts, weights, String.valueOf(prompt.charAt(i + 1)), 1.0);
                    i += 2;
                } else {
                    add(texts, weights, "", 1.0);
                    i += 1;
                }
            } else if (c == '(') {
                round.add(texts.size());
                i++;
            } else if (c == '[') {
                square.add(texts.size());
                i++;
            } else if (c == ':') {
                var m = WEIGHT_CLOSE.matcher(prompt).region(i, n);
                Double w = m.lookingAt() ? parseNumber(m.group(1)) : null;
                if (w != null && !round.isEmpty()) {
                    multiply(weights, round.removeLast(), w);
                    i = m.end();
                } else if (w != null) { // a weight with no open bracket: the whole match is text, as in A1111
                    addText(texts, weights, prompt.substring(i, m.end()));
                    i = m.end();
                } else {
                    addText(texts, weights, ":");
                    i++;
                }
            } else if (c == ')') {
                if (!round.isEmpty()) multiply(weights, round.removeLast(), ROUND);
                else addText(texts, weights, ")");
                i++;
            } else if (c == ']') {
                if (!square.isEmpty()) multiply(weights, square.removeLast(), SQUARE);
                else addText(texts, weights, "]");
                i++;
            } else {
                int j = i;
                while (j < n && "\\()[]:".indexOf(prompt.charAt(j)) < 0) j++;
                addText(texts, weights, prompt.substring(i, j));
                i = j;
            }
        }
        for (int p : round) multiply(weights, p, ROUND);
        for (int p : square) multiply(weights, p, SQUARE);

        List<Fragment> out = new ArrayList<>();
        for (int k = 0; k < texts.size(); k++) {
            Fragment f = new Fragment(texts.get(k), weights.get(k));
            if (!out.isEmpty() && out.getLast().weight() == f.weight()) {
                out.set(out.size() - 1, new Fragment(out.getLast().text() + f.text(), f.weight()));
            } else {
                out.add(f);
            }
        }
        if (out.isEmpty()) out.add(new Fragment("", 1.0));
        return out;
    }

    private static Double parseNumber(String s) {
        try {
            return Double.valueOf(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static void add(List<String> texts, List<Double> weights, String text, double w) {
        texts.add(text);
        weights.add(w);
    }

    /** Plain text, split at BREAK keywords. */
    private static void addText(List<String> texts, List<Double> weights, String text) {
        String[] parts = BREAK.split(text, -1);
        for (int k = 0; k < parts.length; k++) {
            if (k > 0) add(texts, weights, Fragment.BREAK.text(), Fragment.BREAK.weight());
            add(texts, weights, parts[k], 1.0);
        }
    }

    private static void multiply(List<Double> weights, int from, double factor) {
        for (int p = from; p < weights.size(); p++) weights.set(p, weights.get(p) * factor);
    }
}

package dev.jdiffusion.golden;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The tolerances of the golden set, read from its README's table ({@code | case | kind | what | tolerance |}),
 * so that another golden set with its own README is judged by its own numbers.
 */
public final class GoldenTolerances {
    private GoldenTolerances() {}

    /** One row of the table. */
    public record Row(String caseName, String kind, String what, String tolerance) {}

    private static volatile List<Row> rows;

    static List<Row> rows() {
        List<Row> r = rows;
        if (r == null) {
            Path readme = Golden.dir().resolve("README.md");
            try {
                r = parse(Files.readAllLines(readme));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + readme, e);
            }
            rows = r;
        }
        return r;
    }

    static List<Row> parse(List<String> lines) {
        List<Row> out = new ArrayList<>();
        for (String l : lines) {
            String t = l.trim();
            if (!t.startsWith("|")) continue;
            String[] c = t.substring(1, t.endsWith("|") ? t.length() - 1 : t.length()).split("\\|");
            if (c.length != 4) continue;
            String name = c[0].trim().replace("`", "");
            if (name.equals("case") || name.startsWith("---")) continue;
            out.add(new Row(name, c[1].trim(), c[2].trim(), c[3].trim()));
        }
        return out;
    }

    /**
     * The absolute tolerance for a case and the row whose "what" column contains whatContains
     * (case-insensitive; the first match). Fails the test when the README has no such row.
     */
    public static double of(String caseName, String whatContains) {
        String w = whatContains.toLowerCase(Locale.ROOT);
        for (Row r : rows())
            if (r.caseName().equals(caseName) && r.what().toLowerCase(Locale.ROOT).contains(w)) {
                try {
                    return Double.parseDouble(r.tolerance());
                } catch (NumberFormatException e) {
                    fail("golden README: tolerance of " + caseName + " / " + r.what() + " is not a number: " + r.tolerance());
                }
            }
        fail("golden README has no tolerance row for case " + caseName + " / '" + whatContains + "'");
        return 0;
    }

    /** The absolute tolerance of the row whose "what" column is exactly what (case-insensitive): "latents", not "image_latents". */
    public static double exactly(String caseName, String what) {
        for (Row r : rows())
            if (r.caseName().equals(caseName) && r.what().equalsIgnoreCase(what)) return Double.parseDouble(r.tolerance());
        return of(caseName, what);
    }

    /** The integer level bound of a row like "at most 1 level". */
    public static int levels(String caseName, String whatContains) {
        String w = whatContains.toLowerCase(Locale.ROOT);
        for (Row r : rows())
            if (r.caseName().equals(caseName) && r.what().toLowerCase(Locale.ROOT).contains(w)) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)").matcher(r.tolerance());
                if (m.find()) return Integer.parseInt(m.group(1));
            }
        fail("golden README has no level bound for case " + caseName + " / '" + whatContains + "'");
        return 0;
    }
}

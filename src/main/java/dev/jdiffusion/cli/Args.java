package dev.jdiffusion.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small command-line parser: options with one value ({@code -o out.png}, {@code --steps=4}), flags, and
 * positional arguments. Unknown options and missing values are {@link UsageException}s with the command's usage.
 */
final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final Map<String, List<String>> repeated = new HashMap<>();
    private final List<String> positional = new ArrayList<>();
    private final String usage;

    /**
     * @param valued option names that take a value (aliases map through {@code aliases})
     * @param flags  option names without a value
     */
    Args(String[] argv, Set<String> valued, Set<String> flags, Map<String, String> aliases, String usage) {
        this.usage = usage;
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--")) {
                for (int j = i + 1; j < argv.length; j++) positional.add(argv[j]);
                break;
            }
            if (a.startsWith("-") && a.length() > 1 && !isNumber(a)) {
                String name = a, value = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
                name = aliases.getOrDefault(name, name);
                if (flags.contains(name)) {
                    if (value != null) throw new UsageException("option " + name + " takes no value", usage);
                    values.put(name, "true");
                } else if (valued.contains(name)) {
                    if (value == null) {
                        if (i + 1 >= argv.length) throw new UsageException("option " + name + " needs a value", usage);
                        value = argv[++i];
                    }
                    values.put(name, value);
                    repeated.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
                } else {
                    throw new UsageException("unknown option " + a, usage);
                }
            } else {
                positional.add(a);
            }
        }
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    boolean has(String name) { return values.containsKey(name); }

    boolean flag(String name) { return values.containsKey(name); }

    String get(String name) { return values.get(name); }

    String get(String name, String def) { return values.getOrDefault(name, def); }

    String require(String name) {
        String v = values.get(name);
        if (v == null || v.isEmpty()) throw new UsageException("missing " + name, usage);
        return v;
    }

    Path path(String name) {
        String v = values.get(name);
        return v == null ? null : Path.of(v);
    }

    int intValue(String name, int def) {
        String v = values.get(name);
        if (v == null) return def;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " must be an integer, got '" + v + "'", usage);
        }
    }

    long longValue(String name, long def) {
        String v = values.get(name);
        if (v == null) return def;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " must be an integer, got '" + v + "'", usage);
        }
    }

    float floatValue(String name, float def) {
        String v = values.get(name);
        if (v == null) return def;
        try {
            float f = Float.parseFloat(v.trim());
            if (!Float.isFinite(f)) throw new NumberFormatException();
            return f;
        } catch (NumberFormatException e) {
            throw new UsageException(name + " must be a number, got '" + v + "'", usage);
        }
    }

    List<String> positional() { return positional; }

    /** When --help was given, prints the usage to {@code out} and returns true. */
    boolean help(java.io.PrintStream out) {
        if (!values.containsKey("--help")) return false;
        out.println(usage);
        return true;
    }

    /** Refuses positional arguments (commands that take options only). */
    void requireNoPositional() {
        if (!positional.isEmpty()) throw new UsageException("unexpected argument '" + positional.get(0) + "'", usage);
    }

    /** Every value of a repeatable option, in order (empty when not given); {@link #get} gives the last. */
    List<String> all(String name) { return repeated.getOrDefault(name, List.of()); }
}

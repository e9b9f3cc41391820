package dev.jdiffusion.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The textbook CLIP/GPT-2 BPE loop (lowest-ranked pair, merge every occurrence left to right, repeat), kept
 * as the oracle for the engine's heap-based BPE. Quadratic: for short words only.
 */
final class ReferenceBpe {
    private final Map<String, Integer> ranks = new HashMap<>();

    ReferenceBpe(Path mergesTxt) {
        try {
            int line = 0;
            for (String l : Files.readAllLines(mergesTxt, StandardCharsets.UTF_8)) {
                line++;
                if ((line == 1 && l.startsWith("#version")) || l.isEmpty()) continue;
                ranks.putIfAbsent(l, ranks.size());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<String> bpe(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        String[] table = byteToUnicode();
        List<String> w = new ArrayList<>();
        for (int i = 0; i < bytes.length; i++) w.add(table[bytes[i] & 0xff] + (i == bytes.length - 1 ? "</w>" : ""));
        while (w.size() > 1) {
            int best = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < w.size(); i++) {
                Integer r = ranks.get(w.get(i) + " " + w.get(i + 1));
                if (r != null && r < best) best = r;
            }
            if (best == Integer.MAX_VALUE) break;
            List<String> m = new ArrayList<>();
            for (int i = 0; i < w.size(); ) {
                if (i + 1 < w.size() && ranks.getOrDefault(w.get(i) + " " + w.get(i + 1), -1) == best) {
                    m.add(w.get(i) + w.get(i + 1));
                    i += 2;
                } else {
                    m.add(w.get(i++));
                }
            }
            w = m;
        }
        return w;
    }

    private static String[] byteToUnicode() {
        String[] t = new String[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            t[b] = String.valueOf((char) (printable ? b : 256 + n++));
        }
        return t;
    }
}

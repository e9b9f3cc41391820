package dev.jdiffusion.model.clip;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CLIP's byte-level byte-pair encoding of one pre-token: the token's UTF-8 bytes are mapped to printable
 * characters (GPT-2's byte-to-unicode table), the last symbol gets the {@code </w>} word-end marker, and
 * adjacent symbols are merged lowest merge rank first until no ranked pair remains. Results are cached
 * per pre-token (thread-safe, bounded).
 */
final class ClipBpe {
    static final String WORD_END = "</w>";
    private static final int CACHE_LIMIT = 1 << 16;
    private static final String[] BYTE_TO_UNICODE = byteToUnicode();

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> ranks;
    private final int unkId;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /** ranks maps "first second" (one space) to the merge's priority, lower first. */
    ClipBpe(Map<String, Integer> vocab, Map<String, Integer> ranks, int unkId) {
        this.vocab = vocab;
        this.ranks = ranks;
        this.unkId = unkId;
    }

    /** The vocabulary ids of one pre-token. */
    int[] encode(String preToken) {
        int[] ids = cache.get(preToken);
        if (ids != null) return ids;
        List<String> symbols = bpe(preToken);
        ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = vocab.getOrDefault(symbols.get(i), unkId);
        if (cache.size() >= CACHE_LIMIT) cache.clear();
        cache.put(preToken, ids);
        return ids;
    }

    /** The BPE symbols of one pre-token (for tests and debugging). */
    List<String> bpe(String preToken) {
        byte[] bytes = preToken.getBytes(StandardCharsets.UTF_8);
        List<String> word = new ArrayList<>(bytes.length);
        for (int i = 0; i < bytes.length; i++) {
            String s = BYTE_TO_UNICODE[bytes[i] & 0xff];
            word.add(i == bytes.length - 1 ? s + WORD_END : s);
        }
        if (word.isEmpty()) return word;
        while (word.size() > 1) {
            int best = Integer.MAX_VALUE;
            String first = null, second = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer r = ranks.get(word.get(i) + ' ' + word.get(i + 1));
                if (r != null && r < best) {
                    best = r;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) break;
            List<String> merged = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); ) {
                if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(word.get(i));
                    i++;
                }
            }
            word = merged;
        }
        return word;
    }

    /** GPT-2 / CLIP byte-to-unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards. */
    static String[] byteToUnicode() {
        String[] t = new String[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            t[b] = String.valueOf((char) (printable ? b : 256 + n++));
        }
        return t;
    }
}

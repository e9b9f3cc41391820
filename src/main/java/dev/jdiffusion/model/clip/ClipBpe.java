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
    /** Longer pre-tokens are not cached, so the cache stays small (65536 x 64 chars) whatever the prompts. */
    private static final int CACHE_MAX_WORD = 64;
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

    Map<String, Integer> vocabulary() { return java.util.Collections.unmodifiableMap(vocab); }

    Map<String, Integer> mergeRanks() { return java.util.Collections.unmodifiableMap(ranks); }

    /** The vocabulary ids of one pre-token. */
    int[] encode(String preToken) {
        int[] ids = cache.get(preToken);
        if (ids != null) return ids;
        List<String> symbols = bpe(preToken);
        ids = new int[symbols.size()];
        for (int i = 0; i < ids.length; i++) ids[i] = vocab.getOrDefault(symbols.get(i), unkId);
        if (preToken.length() <= CACHE_MAX_WORD) {
            if (cache.size() >= CACHE_LIMIT) cache.clear();
            cache.put(preToken, ids);
        }
        return ids;
    }

    /**
     * The BPE symbols of one pre-token (for tests and debugging).
     *
     * <p>Same result as the textbook loop (find the lowest-ranked adjacent pair, merge all its occurrences left to
     * right, repeat) in O(n log n) rather than O(n^2): pairs wait in a heap ordered by (rank, position); all
     * occurrences of the lowest rank are merged as one batch, left to right, before the pairs those merges create
     * are considered. (A merge never creates a pair of its own rank: the new pair's left or right symbol is longer.)
     */
    List<String> bpe(String preToken) {
        byte[] bytes = preToken.getBytes(StandardCharsets.UTF_8);
        int n = bytes.length;
        List<String> word = new ArrayList<>(n);
        if (n == 0) return word;
        String[] sym = new String[n];
        int[] prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            String s = BYTE_TO_UNICODE[bytes[i] & 0xff];
            sym[i] = i == n - 1 ? s + WORD_END : s;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        java.util.PriorityQueue<Long> heap = new java.util.PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) push(heap, sym, i, i + 1);
        List<Integer> batch = new ArrayList<>();
        while (!heap.isEmpty()) {
            long top = heap.poll();
            int rank = (int) (top >>> 32);
            batch.clear();
            batch.add((int) top);
            while (!heap.isEmpty() && (int) (heap.peek() >>> 32) == rank) batch.add((int) (long) heap.poll());
            for (int pos : batch) {
                int q = sym[pos] == null ? -1 : next[pos];
                if (q < 0) continue; // merged away, or now the last symbol
                Integer r = ranks.get(sym[pos] + ' ' + sym[q]);
                if (r == null || r != rank) continue; // stale: a neighbour changed since this pair was queued
                sym[pos] = sym[pos] + sym[q];
                sym[q] = null;
                next[pos] = next[q];
                if (next[q] >= 0) prev[next[q]] = pos;
                if (prev[pos] >= 0) push(heap, sym, prev[pos], pos);
                if (next[pos] >= 0) push(heap, sym, pos, next[pos]);
            }
        }
        for (int i = 0; i >= 0; i = next[i]) word.add(sym[i]);
        return word;
    }

    private void push(java.util.PriorityQueue<Long> heap, String[] sym, int a, int b) {
        Integer r = ranks.get(sym[a] + ' ' + sym[b]);
        if (r != null) heap.add(((long) r << 32) | a);
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

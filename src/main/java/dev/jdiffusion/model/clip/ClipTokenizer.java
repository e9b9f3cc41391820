package dev.jdiffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdiffusion.weights.ModelFormatException;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's tokenizer, as OpenAI CLIP's {@code SimpleTokenizer} and transformers' {@code CLIPTokenizer} do it:
 * clean the text ({@link ClipTextCleaner}), lower-case, split with CLIP's pre-tokenising pattern, byte-level
 * BPE each piece ({@code </w>} marks word ends), then {@code [BOS] + ids[:maxLength-2] + [EOS]} padded to
 * {@code maxLength} (77) with the pad token the tokenizer config names (EOS for SD 1.x, "!" = id 0 for SD 2.x).
 *
 * <p>Instances are immutable and thread-safe; BPE results are cached per word.
 */
public final class ClipTokenizer {
    /** CLIP's vocabulary layout: 256 byte symbols, 256 with {@code </w>}, the merges, then the two specials. */
    private static final int MAX_MERGES = 49152 - 256 - 2;
    static final String BOS_TOKEN = "<|startoftext|>", EOS_TOKEN = "<|endoftext|>";
    /** CLIP's pre-tokenizer (package-private for the complexity test). */
    static final Pattern PRE_TOKEN = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ClipBpe bpe;
    private final int bos, eos, pad, maxLength;
    /** Added tokens (textual inversion): literal text -> the ids it stands for. Empty for a plain tokenizer. */
    private final Map<String, int[]> added;

    private ClipTokenizer(ClipBpe bpe, int bos, int eos, int pad, int maxLength) {
        this(bpe, bos, eos, pad, maxLength, Map.of());
    }

    private ClipTokenizer(ClipBpe bpe, int bos, int eos, int pad, int maxLength, Map<String, int[]> added) {
        this.added = added;
        this.bpe = bpe;
        this.bos = bos;
        this.eos = eos;
        this.pad = pad;
        this.maxLength = maxLength;
    }

    /** The bundled vocabulary's merges (classpath resource), as OpenAI CLIP ships them: see NOTICE. */
    static final String BUNDLED_MERGES = "bpe_simple_vocab_16e6.merges.txt.gz";

    /**
     * The CLIP tokenizer bundled in the jar, padding with EOS (SD 1.x, SDXL's first encoder). The OpenAI CLIP BPE
     * vocabulary is the same for SD 1.x, SD 2.x and both SDXL text encoders; only the pad token differs
     * ({@link #bundled(String)}). Used when a model has no tokenizer of its own (single-file checkpoints).
     */
    public static ClipTokenizer bundled() { return bundled(EOS_TOKEN); }

    /**
     * The bundled CLIP tokenizer padding with {@code padToken}: {@code "<|endoftext|>"} as SD 1.x, {@code "!"} (id 0)
     * as SD 2.x and SDXL's second encoder (OpenCLIP). Context length 77.
     */
    public static ClipTokenizer bundled(String padToken) {
        Bundled b = Bundled.INSTANCE;
        Integer pad = b.vocab.get(padToken);
        if (pad == null) throw new IllegalArgumentException("pad token " + padToken + " is not in the CLIP vocabulary");
        return new ClipTokenizer(new ClipBpe(b.vocab, b.ranks, b.eos), b.bos, b.eos, pad, 77);
    }

    /**
     * Writes the bundled vocabulary as a tokenizer folder's {@code vocab.json} and {@code merges.txt} (the files
     * transformers' CLIPTokenizer reads; {@link #load} of a folder holding them and a pad token gives the tokenizer
     * {@link #bundled(String)} gives), for synthetic model folders.
     */
    public static void writeBundledVocabulary(Path dir) throws IOException {
        Bundled b = Bundled.INSTANCE;
        String[] tokens = new String[b.vocab.size()];
        b.vocab.forEach((t, id) -> tokens[id] = t);
        com.fasterxml.jackson.databind.node.ObjectNode v = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        for (int i = 0; i < tokens.length; i++) v.put(tokens[i], i);
        String[] merges = new String[b.ranks.size()];
        b.ranks.forEach((m, rank) -> merges[rank] = m);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("vocab.json"), v.toString(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", merges) + "\n", StandardCharsets.UTF_8);
    }

    /**
     * The bundled vocabulary, read once: the merges file holds OpenAI CLIP's {@code bpe_simple_vocab_16e6.txt}
     * (its first line, a header, then the merges CLIP uses); the vocabulary is built from it as CLIP's
     * {@code SimpleTokenizer} does: the 256 byte symbols, the same with {@code </w>}, each merge's result in merge
     * order, then {@code <|startoftext|>} and {@code <|endoftext|>} (49408 entries).
     */
    private static final class Bundled {
        static final Bundled INSTANCE = new Bundled();
        final Map<String, Integer> vocab = new HashMap<>(2 * (MAX_MERGES + 514)), ranks;
        final int bos, eos;

        private Bundled() {
            var in = ClipTokenizer.class.getResourceAsStream(BUNDLED_MERGES);
            if (in == null) throw new IllegalStateException("the jar lacks its CLIP vocabulary resource " + BUNDLED_MERGES);
            try (BufferedReader r = new BufferedReader(new java.io.InputStreamReader(new java.util.zip.GZIPInputStream(in), StandardCharsets.UTF_8))) {
                r.readLine(); // the file's header line, skipped as CLIP does
                ranks = readMerges(r, "bundled CLIP vocabulary");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot read the bundled CLIP vocabulary", e);
            }
            if (ranks.size() != MAX_MERGES)
                throw new IllegalStateException("bundled CLIP vocabulary has " + ranks.size() + " merges, expected " + MAX_MERGES);
            String[] bytes = ClipBpe.byteToUnicode();
            Arrays.sort(bytes); // CLIP's order: the printable bytes (mapped to themselves) first, then U+0100 onwards
            for (String b : bytes) vocab.put(b, vocab.size());
            for (String b : bytes) vocab.put(b + ClipBpe.WORD_END, vocab.size());
            String[] merges = new String[ranks.size()];
            ranks.forEach((m, rank) -> merges[rank] = m);
            for (String m : merges) vocab.putIfAbsent(m.replace(" ", ""), vocab.size());
            bos = vocab.size();
            vocab.put(BOS_TOKEN, bos);
            eos = vocab.size();
            vocab.put(EOS_TOKEN, eos);
        }
    }

    /**
     * Loads a tokenizer folder: {@code vocab.json} and {@code merges.txt}, plus (optional)
     * {@code special_tokens_map.json} / {@code tokenizer_config.json} for the pad token and
     * {@code model_max_length}. A model without a tokenizer (a single-file checkpoint) uses {@link #bundled()}.
     */
    public static ClipTokenizer load(Path tokenizerDir) {
        Path vocabFile = tokenizerDir.resolve("vocab.json"), mergesFile = tokenizerDir.resolve("merges.txt");
        for (Path f : new Path[]{vocabFile, mergesFile})
            if (!Files.isRegularFile(f))
                throw new ModelFormatException(f + ": missing; a CLIP tokenizer folder (--tokenizer DIR) needs vocab.json "
                        + "and merges.txt (without --tokenizer, a model that has no tokenizer/ folder uses the bundled CLIP vocabulary)");
        Map<String, Integer> vocab = readVocab(vocabFile);
        Map<String, Integer> ranks = readMerges(mergesFile);
        int bos = special(vocab, vocabFile, BOS_TOKEN), eos = special(vocab, vocabFile, EOS_TOKEN);

        JsonNode config = readOptional(tokenizerDir.resolve("tokenizer_config.json"));
        JsonNode specials = readOptional(tokenizerDir.resolve("special_tokens_map.json"));
        String padToken = tokenString(specials == null ? null : specials.get("pad_token"));
        if (padToken == null) padToken = tokenString(config == null ? null : config.get("pad_token"));
        int pad = eos;
        if (padToken != null) {
            Integer id = vocab.get(padToken);
            if (id == null) throw new ModelFormatException(tokenizerDir + ": pad token " + padToken + " is not in vocab.json");
            pad = id;
        }
        int maxLength = 77;
        if (config != null && config.path("model_max_length").isIntegralNumber()) {
            long m = config.get("model_max_length").asLong();
            if (m >= 2 && m <= 4096) maxLength = (int) m; // absurd values (transformers' "unlimited" 1e30) keep 77
        }
        return new ClipTokenizer(new ClipBpe(vocab, ranks, eos), bos, eos, pad, maxLength);
    }

    /**
     * This tokenizer with an added token (textual inversion): every literal, case-sensitive occurrence of text in a
     * prompt becomes the given ids (a multi-vector embedding's t, t_1, ...), found leftmost first and, among tokens
     * starting there, longest first, as transformers splits on added tokens; the text between is tokenized as usual.
     *
     * @throws IllegalArgumentException an empty token, or one added before
     */
    public ClipTokenizer withAddedToken(String text, int... ids) {
        if (text.isEmpty() || ids.length == 0) throw new IllegalArgumentException("an added token needs text and at least one id");
        if (added.containsKey(text)) throw new IllegalArgumentException("token '" + text + "' is added twice (two embeddings with the same name?)");
        Map<String, int[]> m = new java.util.LinkedHashMap<>(added);
        m.put(text, ids.clone());
        return new ClipTokenizer(bpe, bos, eos, pad, maxLength, java.util.Collections.unmodifiableMap(m));
    }

    /** True when the vocabulary already has this exact token (with or without the word-end mark). */
    public boolean inVocabulary(String token) { return bpe.vocabulary().containsKey(token) || bpe.vocabulary().containsKey(token + "</w>"); }

    /** The BPE ids of a text, without BOS/EOS, not truncated; added tokens become their ids. */
    public int[] tokenize(String text) {
        if (added.isEmpty()) return tokenizePlain(text);
        java.util.List<int[]> parts = new java.util.ArrayList<>();
        int from = 0, n = 0;
        while (from <= text.length()) {
            int best = -1;
            String bestTok = null;
            for (String t : added.keySet()) {
                int at = text.indexOf(t, from);
                if (at >= 0 && (best < 0 || at < best || at == best && t.length() > bestTok.length())) {
                    best = at;
                    bestTok = t;
                }
            }
            int end = best < 0 ? text.length() : best;
            if (end > from) {
                int[] p = tokenizePlain(text.substring(from, end));
                parts.add(p);
                n += p.length;
            }
            if (best < 0) break;
            int[] ids = added.get(bestTok);
            parts.add(ids);
            n += ids.length;
            from = best + bestTok.length();
        }
        int[] out = new int[n];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    private int[] tokenizePlain(String text) {
        String clean = ClipTextCleaner.clean(text);
        int[] out = new int[Math.max(16, clean.length())];
        int n = 0;
        Matcher m = PRE_TOKEN.matcher(clean);
        while (m.find()) {
            String piece = m.group();
            int[] ids = piece.equals(BOS_TOKEN) ? new int[]{bos} : piece.equals(EOS_TOKEN) ? new int[]{eos} : bpe.encode(piece);
            if (n + ids.length > out.length) out = Arrays.copyOf(out, Math.max(out.length * 2, n + ids.length));
            System.arraycopy(ids, 0, out, n, ids.length);
            n += ids.length;
        }
        return Arrays.copyOf(out, n);
    }

    /** BOS + ids + EOS, truncated to {@link #maxLength()} keeping EOS last, padded with {@link #padId()}. */
    public int[] encode(String text) { return encode(text, maxLength, pad); }

    /** BOS + ids + EOS, truncated to maxLength keeping EOS last, padded with padId to maxLength. */
    public int[] encode(String text, int maxLength, int padId) {
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must be at least 2 (BOS and EOS), got " + maxLength);
        int[] ids = tokenize(text);
        int n = Math.min(ids.length, maxLength - 2);
        int[] out = new int[maxLength];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, n);
        out[n + 1] = eos;
        Arrays.fill(out, n + 2, maxLength, padId);
        return out;
    }

    /** The pre-tokens and their BPE symbols, for debugging ("photo" -> "photo&lt;/w&gt;"). */
    public String[] bpeSymbols(String text) {
        Matcher m = PRE_TOKEN.matcher(ClipTextCleaner.clean(text));
        java.util.List<String> out = new java.util.ArrayList<>();
        while (m.find()) {
            String p = m.group();
            if (p.equals(BOS_TOKEN) || p.equals(EOS_TOKEN)) out.add(p);
            else out.addAll(bpe.bpe(p));
        }
        return out.toArray(String[]::new);
    }

    /** The vocabulary, token to id (read-only view; for tests and tools). */
    Map<String, Integer> vocabulary() { return bpe.vocabulary(); }

    /** The merges "A B" to their rank (read-only view; for tests and tools). */
    Map<String, Integer> mergeRanks() { return bpe.mergeRanks(); }

    /**
     * The same tokenizer padding with another token, as SDXL's second tokenizer pads with "!" (same vocabulary);
     * the token is a vocab.json entry as written there ("!" is id 0 in CLIP's vocabulary).
     */
    public ClipTokenizer withPadToken(String token) {
        Integer id = bpe.vocabulary().get(token);
        if (id == null) throw new IllegalArgumentException("pad token " + token + " is not in the vocabulary");
        return new ClipTokenizer(bpe, bos, eos, id, maxLength);
    }

    public int bos() { return bos; }
    public int eos() { return eos; }
    public int padId() { return pad; }
    public int maxLength() { return maxLength; }

    private static Map<String, Integer> readVocab(Path f) {
        JsonNode root = readJson(f);
        if (!root.isObject() || root.isEmpty()) throw new ModelFormatException(f + ": expected a JSON object of token -> id");
        Map<String, Integer> vocab = new HashMap<>(root.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToInt() || e.getValue().asInt() < 0)
                throw new ModelFormatException(f + ": id of " + e.getKey() + " is not an integer in 0.." + Integer.MAX_VALUE + ": " + e.getValue());
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        return vocab;
    }

    private static Map<String, Integer> readMerges(Path f) {
        try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            return readMerges(r, f.toString());
        } catch (IOException e) {
            throw new ModelFormatException(f + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Merges "A B", one a line, rank = order; a leading {@code #version} line and blank lines are skipped. */
    private static Map<String, Integer> readMerges(BufferedReader r, String where) throws IOException {
        Map<String, Integer> ranks = new HashMap<>(MAX_MERGES * 2);
        String line;
        int lineNo = 0;
        while ((line = r.readLine()) != null && ranks.size() < MAX_MERGES) {
            lineNo++;
            if (lineNo == 1 && line.startsWith("#version")) continue;
            if (line.isEmpty()) continue;
            int sp = line.indexOf(' ');
            if (sp <= 0 || sp != line.lastIndexOf(' ') || sp == line.length() - 1)
                throw new ModelFormatException(where + ": line " + lineNo + " is not a merge \"A B\": " + line);
            ranks.putIfAbsent(line, ranks.size());
        }
        if (ranks.isEmpty()) throw new ModelFormatException(where + ": no merges");
        return ranks;
    }

    private static int special(Map<String, Integer> vocab, Path f, String token) {
        Integer id = vocab.get(token);
        if (id == null) throw new ModelFormatException(f + ": no " + token + " token; not a CLIP vocabulary");
        return id;
    }

    private static String tokenString(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.get("content").asText();
        return null;
    }

    private static JsonNode readOptional(Path f) {
        return Files.isRegularFile(f) ? readJson(f) : null;
    }

    private static JsonNode readJson(Path f) {
        try {
            return JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(f + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}

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
    private static final Pattern PRE_TOKEN = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ClipBpe bpe;
    private final int bos, eos, pad, maxLength;

    private ClipTokenizer(ClipBpe bpe, int bos, int eos, int pad, int maxLength) {
        this.bpe = bpe;
        this.bos = bos;
        this.eos = eos;
        this.pad = pad;
        this.maxLength = maxLength;
    }

    /**
     * Loads a tokenizer folder: {@code vocab.json} and {@code merges.txt}, plus (optional)
     * {@code special_tokens_map.json} / {@code tokenizer_config.json} for the pad token and
     * {@code model_max_length}. A single-file checkpoint has no tokenizer: point at a diffusers model's
     * {@code tokenizer/} folder (the CLI's {@code --tokenizer DIR}).
     */
    public static ClipTokenizer load(Path tokenizerDir) {
        Path vocabFile = tokenizerDir.resolve("vocab.json"), mergesFile = tokenizerDir.resolve("merges.txt");
        for (Path f : new Path[]{vocabFile, mergesFile})
            if (!Files.isRegularFile(f))
                throw new ModelFormatException(f + ": missing; a CLIP tokenizer folder needs vocab.json and merges.txt "
                        + "(a single-file checkpoint has no tokenizer: pass --tokenizer DIR with the tokenizer/ folder of a "
                        + "diffusers model of the same family, e.g. stable-diffusion-v1-5/tokenizer)");
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

    /** The BPE ids of a text, without BOS/EOS, not truncated. */
    public int[] tokenize(String text) {
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
        Map<String, Integer> ranks = new HashMap<>(MAX_MERGES * 2);
        try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null && ranks.size() < MAX_MERGES) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("#version")) continue;
                if (line.isEmpty()) continue;
                int sp = line.indexOf(' ');
                if (sp <= 0 || sp != line.lastIndexOf(' ') || sp == line.length() - 1)
                    throw new ModelFormatException(f + ": line " + lineNo + " is not a merge \"A B\": " + line);
                ranks.putIfAbsent(line, ranks.size());
            }
        } catch (IOException e) {
            throw new ModelFormatException(f + ": cannot read: " + e.getMessage(), e);
        }
        if (ranks.isEmpty()) throw new ModelFormatException(f + ": no merges");
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

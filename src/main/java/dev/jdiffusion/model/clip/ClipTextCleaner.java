package dev.jdiffusion.model.clip;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text clean-up OpenAI CLIP's tokenizer applies before splitting a prompt:
 * {@code whitespace_clean(basic_clean(text)).lower()}, where {@code basic_clean} is
 * {@code ftfy.fix_text}, then {@code html.unescape} twice, then strip.
 *
 * <p>ftfy is reproduced for what it changes in prompts, line by line as ftfy does: HTML entities ending
 * in ';' (not once a line has held {@code <}, as ftfy's "auto" mode), UTF-8 read as Windows-1252 ("cafÃ©" → "café"), C1 control
 * characters, Latin ligatures, full-width characters, curly quotes, line breaks, terminal escapes,
 * control characters and NFC normalisation, repeated until nothing changes. The mojibake repair is
 * a local rule (a lead byte followed by the right number of continuation bytes that decode as strict
 * UTF-8), not ftfy's statistical heuristic. Named HTML entities cover XML's, Latin-1's and the common
 * typographic ones; numeric entities follow Python's {@code html.unescape} rules exactly.
 */
public final class ClipTextCleaner {
    private ClipTextCleaner() {}

    /** The text as CLIP tokenises it: cleaned, whitespace collapsed, lower-cased. */
    public static String clean(String text) {
        return whitespaceClean(basicClean(text)).toLowerCase(Locale.ROOT);
    }

    /** ftfy.fix_text, then html.unescape twice, then strip. */
    static String basicClean(String text) {
        String t = fixText(text);
        t = HtmlEntities.unescape(HtmlEntities.unescape(t));
        return strip(t);
    }

    /** Runs of Python whitespace become one space; ends stripped. */
    static String whitespaceClean(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        boolean inSpace = false;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (isPySpace(cp)) {
                inSpace = true;
            } else {
                if (inSpace && !sb.isEmpty()) sb.append(' ');
                inSpace = false;
                sb.appendCodePoint(cp);
            }
        }
        return sb.toString();
    }

    /** Python's str.isspace for one code point. */
    static boolean isPySpace(int cp) {
        if (cp < 128) return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
        return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a)
                || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
    }

    static String strip(String s) {
        int b = 0, e = s.length();
        while (b < e && isPySpace(s.codePointAt(b))) b += Character.charCount(s.codePointAt(b));
        while (e > b && isPySpace(s.codePointBefore(e))) e -= Character.charCount(s.codePointBefore(e));
        return s.substring(b, e);
    }

    // ---- ftfy subset ----

    /**
     * ftfy.fix_text: line by line (ftfy's segments); once a line holds '<', HTML entities are left alone for
     * it and every later line ("auto" mode).
     */
    static String fixText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean unescapeHtml = true;
        for (int pos = 0; pos < text.length(); ) {
            int end = text.indexOf('\n', pos) + 1;
            if (end == 0) end = text.length();
            String segment = text.substring(pos, end);
            if (segment.indexOf('<') >= 0) unescapeHtml = false;
            out.append(fixSegment(segment, unescapeHtml));
            pos = end;
        }
        return out.toString();
    }

    /** ftfy's fixers on one segment, repeated until nothing changes. */
    private static String fixSegment(String segment, boolean unescapeHtml) {
        String t = segment;
        for (int round = 0; round < 16; round++) {
            String orig = t;
            if (unescapeHtml) t = HtmlEntities.unescapeTerminated(t);
            t = fixMojibake(t);
            t = fixC1Controls(t);
            t = fixLigatures(t);
            t = fixCharacterWidth(t);
            t = uncurlQuotes(t);
            t = fixLineBreaks(t);
            t = TERMINAL_ESCAPE.matcher(t).replaceAll("");
            t = removeControlChars(t);
            t = Normalizer.normalize(t, Normalizer.Form.NFC);
            if (t.equals(orig)) break;
        }
        return t;
    }

    private static final Pattern TERMINAL_ESCAPE = Pattern.compile("\u001b\\[((?:\\d|;)*)([a-zA-Z])");

    /** Windows-1252 byte of a char as ftfy's "sloppy" codec reads it, or -1 when the char has none. */
    private static final int[] CP1252_HIGH = {
            0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d, 0x8f,
            0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178};
    private static final Map<Character, Integer> CP1252_REVERSE = new HashMap<>();

    static {
        for (int i = 0; i < 32; i++) CP1252_REVERSE.put((char) CP1252_HIGH[i], 0x80 + i);
    }

    static int cp1252Byte(char c) {
        if (c < 0x80) return c;
        if (c >= 0xa0 && c <= 0xff) return c;
        Integer b = CP1252_REVERSE.get(c);
        return b == null ? -1 : b;
    }

    /** Replaces sequences like "Ã©" (UTF-8 bytes shown as Windows-1252) by the character they encode. */
    static String fixMojibake(String s) {
        StringBuilder out = null;
        int n = s.length();
        for (int i = 0; i < n; ) {
            int lead = cp1252Byte(s.charAt(i));
            int need = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
            if (need > 0 && i + need < n) {
                byte[] bytes = new byte[need + 1];
                bytes[0] = (byte) lead;
                boolean ok = true;
                for (int k = 1; k <= need && ok; k++) {
                    int b = cp1252Byte(s.charAt(i + k));
                    ok = b >= 0x80 && b <= 0xbf;
                    bytes[k] = (byte) b;
                }
                String decoded = ok ? strictUtf8(bytes) : null;
                if (decoded != null) {
                    if (out == null) out = new StringBuilder(s.substring(0, i));
                    out.append(decoded);
                    i += need + 1;
                    continue;
                }
            }
            if (out != null) out.append(s.charAt(i));
            i++;
        }
        return out == null ? s : out.toString();
    }

    private static String strictUtf8(byte[] bytes) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            CharBuffer cb = d.decode(ByteBuffer.wrap(bytes));
            return cb.toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** C1 control characters (U+0080..U+009F) are read as the Windows-1252 characters they stand for. */
    static String fixC1Controls(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x80 && c <= 0x9f) {
                if (sb == null) sb = new StringBuilder(s.substring(0, i));
                sb.append((char) CP1252_HIGH[c - 0x80]);
            } else if (sb != null) sb.append(c);
        }
        return sb == null ? s : sb.toString();
    }

    private static final Map<Character, String> LIGATURES = Map.ofEntries(
            Map.entry('\u0132', "IJ"), Map.entry('\u0133', "ij"), Map.entry('\u0149', "\u02bcn"),
            Map.entry('\u01c4', "D\u017d"), Map.entry('\u01c5', "D\u017e"), Map.entry('\u01c6', "d\u017e"),
            Map.entry('\u01c7', "LJ"), Map.entry('\u01c8', "Lj"), Map.entry('\u01c9', "lj"),
            Map.entry('\u01ca', "NJ"), Map.entry('\u01cb', "Nj"), Map.entry('\u01cc', "nj"),
            Map.entry('\u01f1', "DZ"), Map.entry('\u01f2', "Dz"), Map.entry('\u01f3', "dz"),
            Map.entry('\ufb00', "ff"), Map.entry('\ufb01', "fi"), Map.entry('\ufb02', "fl"),
            Map.entry('\ufb03', "ffi"), Map.entry('\ufb04', "ffl"), Map.entry('\ufb05', "\u017ft"), Map.entry('\ufb06', "st"));

    static String fixLigatures(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String r = (c >= 0x132 && c <= 0x1f3) || (c >= 0xfb00 && c <= 0xfb06) ? LIGATURES.get(c) : null;
            if (r != null) {
                if (sb == null) sb = new StringBuilder(s.substring(0, i));
                sb.append(r);
            } else if (sb != null) sb.append(c);
        }
        return sb == null ? s : sb.toString();
    }

    /** Full-width and half-width forms (U+FF01..U+FFEF) by their NFKC form; the ideographic space by a space. */
    static String fixCharacterWidth(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String r = null;
            if (c == '\u3000') r = " ";
            else if (c >= 0xff01 && c <= 0xffef) {
                String k = Normalizer.normalize(String.valueOf(c), Normalizer.Form.NFKC);
                if (!k.equals(String.valueOf(c))) r = k;
            }
            if (r != null) {
                if (sb == null) sb = new StringBuilder(s.substring(0, i));
                sb.append(r);
            } else if (sb != null) sb.append(c);
        }
        return sb == null ? s : sb.toString();
    }

    static String uncurlQuotes(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            char r = c == '\u02bc' || (c >= '\u2018' && c <= '\u201b') ? '\'' : (c >= '\u201c' && c <= '\u201f') ? '"' : 0;
            if (r != 0) {
                if (sb == null) sb = new StringBuilder(s.substring(0, i));
                sb.append(r);
            } else if (sb != null) sb.append(c);
        }
        return sb == null ? s : sb.toString();
    }

    static String fixLineBreaks(String s) {
        if (s.indexOf('\r') < 0 && s.indexOf('\u2028') < 0 && s.indexOf('\u2029') < 0 && s.indexOf('\u0085') < 0) return s;
        return s.replace("\r\n", "\n").replace('\r', '\n').replace('\u2028', '\n').replace('\u2029', '\n').replace('\u0085', '\n');
    }

    static boolean isRemovedControl(int c) {
        return (c <= 0x08) || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f
                || (c >= 0x206a && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
    }

    static String removeControlChars(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (isRemovedControl(c)) {
                if (sb == null) sb = new StringBuilder(s.substring(0, i));
            } else if (sb != null) sb.append(c);
        }
        return sb == null ? s : sb.toString();
    }

    /** Python's html.unescape over a table of the common named entities. */
    static final class HtmlEntities {
        private HtmlEntities() {}

        private static final Pattern CHARREF = Pattern.compile("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)");
        /** Names with ';' for every entity, and without for the legacy ones Python also accepts bare. */
        private static final Map<String, String> NAMED = new HashMap<>();
        private static final String LATIN1 = "nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr "
                + "deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest "
                + "Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml "
                + "ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig "
                + "agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml "
                + "eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml";
        private static final Object[] OTHER = {
                "apos", 0x27, "OElig", 0x152, "oelig", 0x153, "Scaron", 0x160, "scaron", 0x161, "Yuml", 0x178, "fnof", 0x192,
                "circ", 0x2c6, "tilde", 0x2dc, "ensp", 0x2002, "emsp", 0x2003, "thinsp", 0x2009, "zwnj", 0x200c, "zwj", 0x200d,
                "lrm", 0x200e, "rlm", 0x200f, "ndash", 0x2013, "mdash", 0x2014, "lsquo", 0x2018, "rsquo", 0x2019, "sbquo", 0x201a,
                "ldquo", 0x201c, "rdquo", 0x201d, "bdquo", 0x201e, "dagger", 0x2020, "Dagger", 0x2021, "bull", 0x2022,
                "hellip", 0x2026, "permil", 0x2030, "prime", 0x2032, "Prime", 0x2033, "lsaquo", 0x2039, "rsaquo", 0x203a,
                "oline", 0x203e, "frasl", 0x2044, "euro", 0x20ac, "trade", 0x2122, "larr", 0x2190, "uarr", 0x2191,
                "rarr", 0x2192, "darr", 0x2193, "harr", 0x2194, "minus", 0x2212, "infin", 0x221e, "ne", 0x2260,
                "le", 0x2264, "ge", 0x2265, "spades", 0x2660, "clubs", 0x2663, "hearts", 0x2665, "diams", 0x2666};

        static {
            String[] l1 = LATIN1.split(" ");
            for (int i = 0; i < l1.length; i++) legacy(l1[i], String.valueOf((char) (0xa0 + i)));
            legacy("amp", "&");
            legacy("lt", "<");
            legacy("gt", ">");
            legacy("quot", "\"");
            for (String[] up : new String[][]{{"AMP", "&"}, {"LT", "<"}, {"GT", ">"}, {"QUOT", "\""}, {"COPY", "\u00a9"}, {"REG", "\u00ae"}})
                legacy(up[0], up[1]);
            for (int i = 0; i < OTHER.length; i += 2) NAMED.put(OTHER[i] + ";", Character.toString((Integer) OTHER[i + 1]));
        }

        private static void legacy(String name, String value) {
            NAMED.put(name + ";", value);
            NAMED.put(name, value);
        }

        private static final Pattern TERMINATED = Pattern.compile("&#?[0-9A-Za-z]{1,24};");

        /** ftfy's unescape_html: only entities that end in ';'; unknown ones stay as they are. */
        static String unescapeTerminated(String s) {
            if (s.indexOf('&') < 0) return s;
            Matcher m = TERMINATED.matcher(s);
            StringBuilder sb = new StringBuilder(s.length());
            while (m.find()) {
                String e = m.group();
                String r;
                if (e.startsWith("&#")) {
                    r = unescape(e);
                    if (r.indexOf(';') >= 0) r = e;
                } else r = NAMED.getOrDefault(e.substring(1), e);
                m.appendReplacement(sb, Matcher.quoteReplacement(r));
            }
            m.appendTail(sb);
            return sb.toString();
        }

        /** Python's html.unescape. */
        static String unescape(String s) {
            if (s.indexOf('&') < 0) return s;
            Matcher m = CHARREF.matcher(s);
            StringBuilder sb = new StringBuilder(s.length());
            while (m.find()) m.appendReplacement(sb, Matcher.quoteReplacement(replace(m.group(1))));
            m.appendTail(sb);
            return sb.toString();
        }

        private static String replace(String s) {
            if (s.charAt(0) == '#') {
                int num;
                try {
                    String digits = s.charAt(1) == 'x' || s.charAt(1) == 'X' ? s.substring(2) : s.substring(1);
                    if (digits.endsWith(";")) digits = digits.substring(0, digits.length() - 1);
                    boolean hex = s.charAt(1) == 'x' || s.charAt(1) == 'X';
                    long v = new java.math.BigInteger(digits, hex ? 16 : 10).min(java.math.BigInteger.valueOf(0x7fffffffL)).longValue();
                    num = (int) v;
                } catch (NumberFormatException e) {
                    return "&" + s;
                }
                if (num == 0) return "\ufffd";
                if (num == 0x0d) return "\r";
                if (num >= 0x80 && num <= 0x9f) return String.valueOf((char) CP1252_HIGH[num - 0x80]);
                if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return "\ufffd";
                if ((num >= 0x1 && num <= 0x8) || (num >= 0xe && num <= 0x1f) || (num >= 0x7f && num <= 0x9f)
                        || (num >= 0xfdd0 && num <= 0xfdef) || num == 0xb || (num & 0xfffe) == 0xfffe) return "";
                return Character.toString(num);
            }
            String v = NAMED.get(s);
            if (v != null) return v;
            for (int x = s.length() - 1; x > 1; x--) {
                String p = s.substring(0, x);
                if (NAMED.containsKey(p) && !p.endsWith(";")) return NAMED.get(p) + s.substring(x);
            }
            return "&" + s;
        }
    }
}

package dev.jdiffusion.weights;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.DeserializationFeature;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One {@code .safetensors} file, memory-mapped read-only with FFM. The header is validated completely
 * before any tensor is handed out: every tensor is a zero-copy {@link TensorView} into the mapping.
 *
 * <p>Format: 8-byte little-endian header length N, N bytes of UTF-8 JSON ({@code name -> {dtype, shape,
 * data_offsets:[begin,end]}} plus optional {@code __metadata__} of strings), then the data area.
 */
public final class SafetensorsFile implements TensorSource {
    /** Largest header accepted (real checkpoints have a few hundred KiB). */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    private static final int MAX_RANK = 8;

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxStringLength(1 << 24).build())
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final Map<String, TensorView> tensors;
    private final Map<String, String> metadata;
    private final long dataStart;

    /** The files mapped now (for {@link #truncatedOpenFiles}); a file leaves the set when closed. */
    private static final java.util.Set<SafetensorsFile> OPEN = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** The file's identity (inode) when mapped, or null where the file system has none. */
    private Object fileKey;

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, Map<String, TensorView> tensors,
                            Map<String, String> metadata, long dataStart) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.tensors = tensors;
        this.metadata = metadata;
        this.dataStart = dataStart;
    }

    /**
     * Maps and validates the file.
     *
     * @param path the {@code .safetensors} file
     * @return the open file; the caller owns it and must close it to unmap it
     * @throws ModelFormatException naming the file for any defect (unreadable, bad header, overlapping, misaligned or
     *     out-of-range tensors, trailing bytes)
     */
    public static SafetensorsFile open(Path path) {
        String where = path.toString();
        long size;
        try {
            size = Files.size(path);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(where + ": no such file");
        } catch (IOException e) {
            throw new ModelFormatException(where + ": cannot read: " + e.getMessage(), e);
        }
        if (Files.isDirectory(path)) throw new ModelFormatException(where + ": is a directory, not a .safetensors file");
        if (size < 8) throw new ModelFormatException(where + ": truncated: " + size + " bytes, shorter than the 8-byte header length");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 2 || n > MAX_HEADER_BYTES)
                throw new ModelFormatException(where + ": " + (looksLikeText(seg, size) ? "not a safetensors file (it holds text); " : "")
                        + "header length " + Long.toUnsignedString(n) + " is not plausible (must be 2.." + MAX_HEADER_BYTES + ")");
            if (8 + n > size)
                throw new ModelFormatException(where + ": truncated: header length " + n + " runs past the end of the " + size + "-byte file");
            byte[] hb = seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            String header;
            try {
                header = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(hb)).toString();
            } catch (CharacterCodingException e) {
                throw new ModelFormatException(where + ": header is not valid UTF-8");
            }
            long dataStart = 8 + n;
            long dataSize = size - dataStart;
            Parsed p = parseHeader(where, header, dataSize);
            Map<String, TensorView> views = new LinkedHashMap<>();
            for (Entry e : p.entries)
                views.put(e.name, new TensorView(e.name, where, e.dtype, e.shape, seg.asSlice(dataStart + e.begin, e.end - e.begin)));
            SafetensorsFile f = new SafetensorsFile(path, arena, seg, Collections.unmodifiableMap(views), p.metadata, dataStart);
            f.fileKey = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            OPEN.add(f);
            return f;
        } catch (ModelFormatException e) {
            arena.close();
            throw e;
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(where + ": cannot map: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private record Parsed(List<Entry> entries, Map<String, String> metadata) {}

    /** Validates the JSON header against the data-area size. Package-private for the fuzz tests. */
    static Parsed parseHeader(String where, String header, long dataSize) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (IOException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            throw new ModelFormatException(where + ": header is not valid JSON: " + msg);
        }
        if (root == null || !root.isObject())
            throw new ModelFormatException(where + ": header is not a JSON object (found " + (root == null ? "nothing" : root.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)) + ")");
        List<Entry> entries = new ArrayList<>();
        Map<String, String> meta = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw new ModelFormatException(where + ": __metadata__ is not an object of strings");
                v.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual())
                        throw new ModelFormatException(where + ": __metadata__ value " + m.getKey() + " is not a string");
                    meta.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            String t = where + ": tensor " + name;
            if (!v.isObject()) throw new ModelFormatException(t + ": entry is not an object");
            JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
            if (dt == null || !dt.isTextual()) throw new ModelFormatException(t + ": missing or non-string dtype");
            DType dtype = DType.parse(dt.asText());
            if (dtype == null) throw new ModelFormatException(t + ": unknown dtype " + dt.asText());
            if (sh == null || !sh.isArray()) throw new ModelFormatException(t + ": missing shape");
            if (sh.size() > MAX_RANK) throw new ModelFormatException(t + ": rank " + sh.size() + " exceeds " + MAX_RANK);
            long[] shape = new long[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = sh.get(i);
                if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0)
                    throw new ModelFormatException(t + ": bad dimension " + d + " in shape " + sh + " (dimensions are integers >= 0)");
                shape[i] = d.asLong();
                try {
                    numel = Math.multiplyExact(numel, shape[i]);
                } catch (ArithmeticException e) {
                    throw new ModelFormatException(t + ": shape " + sh + " has more than 2^63 elements");
                }
            }
            if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                    || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong())
                throw new ModelFormatException(t + ": data_offsets must be [begin, end]");
            long b = off.get(0).asLong(), e = off.get(1).asLong();
            if (b < 0 || e < b) throw new ModelFormatException(t + ": bad data_offsets [" + b + ", " + e + "] (begin must be >= 0 and <= end)");
            if (e > dataSize)
                throw new ModelFormatException(t + ": data [" + b + ", " + e + ") runs past the end of the data area (" + dataSize + " bytes): file truncated?");
            long bytes;
            try {
                bytes = Math.multiplyExact(numel, dtype.bytes());
            } catch (ArithmeticException ex) {
                throw new ModelFormatException(t + ": shape " + sh + " x " + dtype + " is more than 2^63 bytes");
            }
            if (bytes != e - b)
                throw new ModelFormatException(t + ": shape " + java.util.Arrays.toString(shape) + " x " + dtype + " is " + bytes
                        + " bytes but data_offsets span " + (e - b));
            entries.add(new Entry(name, dtype, shape, b, e));
        }
        checkTiling(where, entries, dataSize);
        return new Parsed(entries, Collections.unmodifiableMap(meta));
    }

    /**
     * The tensors must tile the data area exactly, as the reference implementation demands: sorted by offsets,
     * each begins where the previous one ends (zero-size tensors included), and the last ends at the end of the file.
     * Overlaps (aliasing), holes and trailing bytes all mean a corrupt or mis-written file.
     */
    private static void checkTiling(String where, List<Entry> entries, long dataSize) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort((x, y) -> x.begin != y.begin ? Long.compare(x.begin, y.begin) : Long.compare(x.end, y.end));
        long expected = 0;
        Entry prev = null;
        for (Entry e : sorted) {
            if (e.begin < expected)
                throw new ModelFormatException(where + ": tensors " + prev.name + " and " + e.name + " overlap in the data area (["
                        + prev.begin + ", " + prev.end + ") and [" + e.begin + ", " + e.end + "))");
            if (e.begin > expected)
                throw new ModelFormatException(where + ": tensor " + e.name + " starts at data offset " + e.begin + " but the previous tensor ends at "
                        + expected + " (a hole in the data area)");
            expected = e.end;
            prev = e;
        }
        if (expected != dataSize)
            throw new ModelFormatException(where + ": " + (dataSize - expected) + " trailing bytes after the last tensor (data area is "
                    + dataSize + " bytes, tensors end at " + expected + ")");
    }

    /**
     * The mapped file.
     *
     * @return the path given to {@link #open}
     */
    public Path path() { return path; }

    /**
     * Where the data area starts: after the 8-byte header length and the JSON header.
     *
     * @return the byte offset of the data area in the file
     */
    public long dataStart() { return dataStart; }

    /**
     * Size of the mapping.
     *
     * @return the mapped file's size in bytes when it was opened
     */
    public long fileSize() { return mapping.byteSize(); }

    @Override public Set<String> names() { return tensors.keySet(); }

    @Override public TensorView find(String name) { return tensors.get(name); }

    @Override public String description() { return path.toString(); }

    @Override public Map<String, String> metadata() { return metadata; }

    /**
     * True when the file this mapping reads is now shorter than the mapping (truncated or rewritten in place after it
     * was mapped), so reads of the lost pages fault. Checked with a stat of the same file (same inode); a file
     * replaced by a rename leaves the mapping intact and is not truncated.
     *
     * @return true when the file on disk is now shorter than the mapping; false when it is not, was replaced or was
     *     deleted
     */
    public boolean truncated() {
        try {
            var a = Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class);
            return (fileKey == null || fileKey.equals(a.fileKey())) && a.size() < mapping.byteSize();
        } catch (IOException e) {
            return false;   // deleted (unlinked): the mapping keeps the data
        }
    }

    /**
     * The files mapped now that {@link #truncated} says lost pages: the sound test, when a read of mapped memory
     * failed, of whether a file changed underneath (the JVM reports such a fault as an InternalError).
     *
     * @return the paths of the open files that are truncated now (empty when none)
     */
    public static List<Path> truncatedOpenFiles() {
        List<Path> out = new java.util.ArrayList<>();
        for (SafetensorsFile f : OPEN) if (f.truncated()) out.add(f.path);
        return out;
    }

    /** Unmaps the file. Views handed out become invalid (accessing them throws IllegalStateException). */
    @Override public void close() {
        OPEN.remove(this);
        if (arena.scope().isAlive()) arena.close();
    }

    /** True when the file's first bytes (up to 512) are printable text: a text file given where weights belong. */
    private static boolean looksLikeText(MemorySegment seg, long size) {
        int n = (int) Math.min(512, size);
        for (int i = 0; i < n; i++) {
            int b = seg.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            if (b < 0x20 && b != '\n' && b != '\r' && b != '\t' || b == 0x7f) return false;
        }
        return true;
    }
}

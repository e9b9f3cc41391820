package dev.jdiffusion.pipeline;

import dev.jdiffusion.weights.TensorSource;
import dev.jdiffusion.weights.TensorView;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Drops the pages of mapped weight tensors from this process's resident set, so that a component that is done
 * (or a U-Net block that has run) stops counting in RSS. The weights stay where they are: the mapping is read-only
 * and file-backed, so {@code madvise(MADV_DONTNEED)} only unmaps the clean pages from the page tables; the file's
 * pages stay in the kernel's page cache and the next read maps them again (a minor fault, no disk read unless
 * the system reclaimed them). Results never change.
 *
 * <p>Calls libc's {@code madvise} through FFM; where it is unavailable (not Linux, or native access denied)
 * {@link #release} does nothing and returns false.
 */
final class WeightPages {
    private static final int MADV_DONTNEED = 4;
    private static final MethodHandle MADVISE = lookup();
    private static final long PAGE = 4096;

    private final TensorSource source;
    /** Per prefix, the page-aligned slices of the mapped tensors to drop (segments, not raw addresses). */
    private final Map<String, List<MemorySegment>> ranges = new ConcurrentHashMap<>();

    WeightPages(TensorSource source) { this.source = source; }

    /** True when madvise can be called on this platform. */
    static boolean available() { return MADVISE != null; }

    private static MethodHandle lookup() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (!os.contains("linux")) return null;
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("madvise")
                    .map(a -> linker.downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Releases every tensor of the source. */
    boolean releaseAll() { return release(""); }

    /**
     * Releases the tensors whose names start with {@code prefix + "."} (all tensors for an empty prefix).
     * The page-aligned slices are worked out once per prefix and kept as segments of the mapping: each call checks
     * that the mapping is still alive and holds it alive while madvise runs, so a closed mapping (whose addresses
     * another mapping may reuse) is never touched.
     *
     * @throws IllegalStateException the source's files were closed
     */
    boolean release(String prefix) {
        if (MADVISE == null) return false;
        List<MemorySegment> r = ranges.computeIfAbsent(prefix, this::rangesOf);
        boolean ok = true;
        for (MemorySegment s : r) {
            if (!s.scope().isAlive()) throw new IllegalStateException(source.description() + ": the weight files are closed");
            ok &= madvise(s);
        }
        return ok;
    }

    /**
     * Slices of the mappings covering the prefix's tensors, adjacent tensors of one mapping merged, inward to whole
     * pages (a page shared with a tensor outside the prefix, or with the file's header, stays resident).
     */
    private List<MemorySegment> rangesOf(String prefix) {
        String p = prefix.isEmpty() ? "" : prefix + ".";
        List<MemorySegment> spans = new ArrayList<>();
        for (String n : source.names()) {
            if (!n.startsWith(p)) continue;
            TensorView t = source.find(n);
            MemorySegment s = t == null ? null : t.segment();
            if (s == null || !s.isNative() || s.byteSize() == 0) continue;
            spans.add(s);
        }
        spans.sort((a, b) -> Long.compare(a.address(), b.address()));
        List<MemorySegment> out = new ArrayList<>();
        MemorySegment first = null;
        long end = 0;
        for (MemorySegment s : spans) {
            // tensors of one file are contiguous: merge while the next starts where this run ends, in the same mapping
            if (first != null && s.scope().equals(first.scope()) && s.address() == end) {
                end += s.byteSize();
                continue;
            }
            if (first != null) addPages(out, first, end);
            first = s;
            end = s.address() + s.byteSize();
        }
        if (first != null) addPages(out, first, end);
        return List.copyOf(out);
    }

    /** The whole pages of [first's start, end), a run of contiguous tensors of first's mapping, as a slice of it. */
    private static void addPages(List<MemorySegment> out, MemorySegment first, long end) {
        long a = Math.floorDiv(first.address() + PAGE - 1, PAGE) * PAGE, b = Math.floorDiv(end, PAGE) * PAGE;
        if (b <= a) return;
        // the run lies inside first's mapping; widening first (same scope) to it keeps the liveness checks
        out.add(first.reinterpret(end - first.address()).asSlice(a - first.address(), b - a));
    }

    /** Bytes of every tensor of the source. */
    long bytes() {
        long sum = 0;
        for (String n : source.names()) {
            TensorView t = source.find(n);
            if (t != null && t.segment() != null) sum += t.segment().byteSize();
        }
        return sum;
    }

    /**
     * Bytes of the largest module whose pages {@link #release} drops as a unit during a U-Net step: a name up to
     * its last numeric part among the first four ({@code up_blocks.1.attentions.0}, {@code mid_block.resnets.0}),
     * else its first part ({@code conv_in}).
     */
    long largestModuleBytes() {
        Map<String, Long> by = new java.util.HashMap<>();
        for (String n : source.names()) {
            TensorView t = source.find(n);
            if (t != null && t.segment() != null) by.merge(module(n), t.segment().byteSize(), Long::sum);
        }
        long max = 0;
        for (long b : by.values()) max = Math.max(max, b);
        return max;
    }

    static String module(String name) {
        String[] parts = name.split("\\.");
        int cut = 1;
        for (int i = 1; i < Math.min(4, parts.length - 1); i++) if (!parts[i].isEmpty() && parts[i].chars().allMatch(Character::isDigit)) cut = i + 1;
        return String.join(".", java.util.Arrays.copyOf(parts, Math.min(cut, parts.length)));
    }

    /** The scopes of the mappings the source's tensors live in (one per file; empty for heap tensors). */
    java.util.Set<MemorySegment.Scope> scopes() {
        java.util.Set<MemorySegment.Scope> s = new java.util.HashSet<>();
        for (String n : source.names()) {
            TensorView t = source.find(n);
            if (t != null && t.segment() != null && t.segment().isNative()) s.add(t.segment().scope());
        }
        return s;
    }

    long winogradFilterBytes(int minChannels) {

        long sum = 0;
        for (String n : source.names()) {
            TensorView t = source.find(n);
            if (t == null || t.rank() != 4 || t.dim(2) != 3 || t.dim(3) != 3) continue;
            if (t.dim(0) >= minChannels && t.dim(1) >= minChannels) sum += 64L * t.dim(0) * t.dim(1);
        }
        return sum;
    }

    private static boolean madvise(MemorySegment s) {
        try {
            // a segment argument keeps its mapping alive for the call (closing it meanwhile fails)
            return (int) MADVISE.invokeExact(s, s.byteSize(), MADV_DONTNEED) == 0;
        } catch (IllegalStateException e) {
            throw new IllegalStateException("the weight files are closed", e);
        } catch (Throwable e) {
            return false;
        }
    }
}

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
    private final Map<String, long[]> ranges = new ConcurrentHashMap<>();

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
     * The address ranges are worked out once per prefix and cached.
     */
    boolean release(String prefix) {
        if (MADVISE == null) return false;
        long[] r = ranges.computeIfAbsent(prefix, this::rangesOf);
        boolean ok = true;
        for (int i = 0; i < r.length; i += 2) ok &= madvise(r[i], r[i + 1]);
        return ok;
    }

    /** Page-aligned [start, length] pairs covering the prefix's tensors, adjacent tensors merged. */
    private long[] rangesOf(String prefix) {
        String p = prefix.isEmpty() ? "" : prefix + ".";
        List<long[]> spans = new ArrayList<>();
        for (String n : source.names()) {
            if (!n.startsWith(p)) continue;
            TensorView t = source.find(n);
            MemorySegment s = t == null ? null : t.segment();
            if (s == null || !s.isNative() || s.byteSize() == 0) continue;
            spans.add(new long[]{s.address(), s.address() + s.byteSize()});
        }
        spans.sort((a, b) -> Long.compare(a[0], b[0]));
        List<long[]> merged = new ArrayList<>();
        for (long[] s : spans) {
            // outward to whole pages: a page shared with a neighbouring tensor is only re-mapped when next read
            long a = Math.floorDiv(s[0], PAGE) * PAGE, b = Math.floorDiv(s[1] + PAGE - 1, PAGE) * PAGE;
            long[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && a <= last[1]) last[1] = Math.max(last[1], b);
            else merged.add(new long[]{a, b});
        }
        long[] out = new long[merged.size() * 2];
        for (int i = 0; i < merged.size(); i++) {
            out[2 * i] = merged.get(i)[0];
            out[2 * i + 1] = merged.get(i)[1] - merged.get(i)[0];
        }
        return out;
    }

    private static boolean madvise(long address, long length) {
        try {
            return (int) MADVISE.invokeExact(MemorySegment.ofAddress(address), length, MADV_DONTNEED) == 0;
        } catch (Throwable e) {
            return false;
        }
    }
}

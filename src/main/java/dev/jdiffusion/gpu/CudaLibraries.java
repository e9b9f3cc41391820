package dev.jdiffusion.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds the CUDA shared libraries (runtime {@code libcudart}, {@code libcublas}, {@code libcublasLt} of CUDA 13 or 12,
 * and the driver's {@code libcuda.so.1}) at run time, in the usual places and in this order:
 * <ol>
 *   <li>{@code $CUDA_HOME/lib64}, {@code $CUDA_HOME/lib}, {@code $CUDA_PATH/lib64}, {@code $CUDA_PATH/lib}
 *       (and their {@code targets/x86_64-linux/lib});</li>
 *   <li>each {@code $LD_LIBRARY_PATH} entry;</li>
 *   <li>{@code /usr/local/cuda/lib64|lib}, then {@code /usr/local/cuda-13*} and {@code /usr/local/cuda-12*}, newest
 *       first, and the distribution folders ({@code /usr/lib/x86_64-linux-gnu}, {@code /usr/lib64}, WSL's
 *       {@code /usr/lib/wsl/lib});</li>
 *   <li>the system loader by soname ({@code libcudart.so.13}, then {@code libcudart.so.12}), which also follows
 *       {@code ldconfig}'s cache.</li>
 * </ol>
 * Nothing here runs at class initialisation and nothing is loaded until {@link Search#load(Arena)} is called, so the
 * CPU path never touches native code. A search that finds nothing says exactly what it looked for and where.
 */
public final class CudaLibraries {
    /** The CUDA major versions this binding is written for, preferred first. */
    public static final List<Integer> MAJORS = List.of(13, 12);

    private final Map<String, String> env;
    private final boolean systemPlaces;

    private CudaLibraries(Map<String, String> env, boolean systemPlaces) {
        this.env = env;
        this.systemPlaces = systemPlaces;
    }

    /** Searches this process's environment and the system places. */
    public static CudaLibraries system() { return new CudaLibraries(System.getenv(), true); }

    /**
     * Searches only what {@code env} names ({@code CUDA_HOME}, {@code CUDA_PATH}, {@code LD_LIBRARY_PATH});
     * with {@code systemPlaces} false, neither {@code /usr/local/cuda*}, the distribution folders nor the system
     * loader are tried (for tests, and to pin one installation).
     */
    public static CudaLibraries of(Map<String, String> env, boolean systemPlaces) {
        return new CudaLibraries(Map.copyOf(env), systemPlaces);
    }

    /** The CUDA runtime, {@code libcudart.so.13} or {@code .12}. */
    public Search cudart() { return versioned("libcudart", "CUDA runtime"); }

    /** cuBLAS, {@code libcublas.so.13} or {@code .12}. */
    public Search cublas() { return versioned("libcublas", "cuBLAS"); }

    /** cuBLASLt, which cuBLAS itself loads; looked for so that a missing one is reported by name. */
    public Search cublasLt() { return versioned("libcublasLt", "cuBLASLt"); }

    /** The NVIDIA driver's CUDA library, {@code libcuda.so.1}; installed with the driver, never with the toolkit. */
    public Search driver() { return search("libcuda", "NVIDIA driver library", List.of("libcuda.so.1")); }

    private Search versioned(String base, String what) {
        List<String> names = new ArrayList<>();
        for (int m : MAJORS) names.add(base + ".so." + m);
        return search(base, what, names);
    }

    private Search search(String base, String what, List<String> fileNames) {
        List<String> tried = new ArrayList<>();
        List<Path> found = new ArrayList<>();
        for (Path dir : folders()) {
            tried.add(dir.toString());
            for (String n : fileNames) {
                Path p = dir.resolve(n);
                if (Files.isRegularFile(p) && !found.contains(p)) found.add(p);
            }
        }
        List<String> sonames = systemPlaces ? fileNames : List.of();
        return new Search(base, what, fileNames, List.copyOf(tried), List.copyOf(found), sonames);
    }

    /** The folders searched, in order, without duplicates; folders that do not exist are listed too (as tried). */
    List<Path> folders() {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String v = env.get(var);
            if (v == null || v.isBlank()) continue;
            Path home = Path.of(v.trim());
            dirs.add(home.resolve("lib64"));
            dirs.add(home.resolve("lib"));
            dirs.add(home.resolve("targets").resolve("x86_64-linux").resolve("lib"));
        }
        String ld = env.get("LD_LIBRARY_PATH");
        if (ld != null)
            for (String e : ld.split(java.io.File.pathSeparator))
                if (!e.isBlank()) dirs.add(Path.of(e.trim()));
        if (systemPlaces) {
            for (Path home : cudaHomes()) {
                dirs.add(home.resolve("lib64"));
                dirs.add(home.resolve("lib"));
            }
            dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
            dirs.add(Path.of("/usr/lib64"));
            dirs.add(Path.of("/usr/lib/wsl/lib"));
        }
        return List.copyOf(dirs);
    }

    /** {@code /usr/local/cuda}, then the versioned {@code /usr/local/cuda-13*}, {@code cuda-12*} folders, newest first. */
    private static List<Path> cudaHomes() {
        List<Path> homes = new ArrayList<>();
        Path local = Path.of("/usr/local");
        homes.add(local.resolve("cuda"));
        if (Files.isDirectory(local)) {
            try (Stream<Path> s = Files.list(local)) {
                s.filter(p -> {
                    String n = p.getFileName().toString();
                    return MAJORS.stream().anyMatch(m -> n.equals("cuda-" + m) || n.startsWith("cuda-" + m + "."));
                }).sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).forEach(homes::add);
            } catch (java.io.IOException | SecurityException e) {
                // an unreadable /usr/local is the same as no installation there
            }
        }
        return homes;
    }

    /**
     * One library's search result: the files found on disk (nothing is loaded yet) and what was tried.
     *
     * @param base      the library's base name, e.g. {@code libcudart}
     * @param what      its description, e.g. "CUDA runtime"
     * @param fileNames the file names looked for, preferred first
     * @param tried     the folders searched, in order
     * @param found     the matching files, in search order
     * @param sonames   the names handed to the system loader when no file loads (empty when system places are off)
     */
    public record Search(String base, String what, List<String> fileNames, List<String> tried, List<Path> found,
                         List<String> sonames) {
        /** Whether a file was found on disk (the system loader may still find one when this is false). */
        public boolean foundOnDisk() { return !found.isEmpty(); }

        /** "looked for libcudart.so.13, libcudart.so.12 in A, B, C and through the system loader". */
        public String describe() {
            return "looked for " + String.join(", ", fileNames) + " in " + (tried.isEmpty() ? "no folders" : String.join(", ", tried))
                    + (sonames.isEmpty() ? "" : " and through the system loader (ldconfig)");
        }

        /**
         * Loads the first file that loads, else the first soname the system loader knows, into {@code arena}.
         *
         * @throws CudaException naming every place tried (and why a found file did not load)
         */
        public Loaded load(Arena arena) {
            List<String> failures = new ArrayList<>();
            for (Path p : found) {
                String notElf = notElf(p);
                if (notElf != null) {
                    failures.add(p + " did not load (" + notElf + ")");
                    continue;
                }
                try {
                    return new Loaded(this, p.toString(), SymbolLookup.libraryLookup(p, arena));
                } catch (IllegalArgumentException e) {
                    failures.add(p + " did not load (" + e.getMessage() + ")");
                }
            }
            for (String n : sonames) {
                try {
                    return new Loaded(this, n + " (system loader)", SymbolLookup.libraryLookup(n, arena));
                } catch (IllegalArgumentException e) {
                    // not known to the loader: listed in describe()
                }
            }
            throw new CudaException(what + " (" + base + ") not found: " + describe()
                    + (failures.isEmpty() ? "" : "; " + String.join("; ", failures))
                    + "; set CUDA_HOME to a CUDA 12 or 13 installation");
        }
    }

    /** Why {@code p} is not an ELF file (checked before dlopen, which prints JVM warnings for junk), or null. */
    static String notElf(Path p) {
        try (java.io.InputStream in = Files.newInputStream(p)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F' ? null : "not an ELF shared library";
        } catch (java.io.IOException | SecurityException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /**
     * A loaded library.
     *
     * @param search where it was looked for
     * @param where  the file it was loaded from, or the soname and "(system loader)"
     * @param lookup its symbols
     */
    public record Loaded(Search search, String where, SymbolLookup lookup) {
        /** The named function, or a CudaException naming the library when it lacks it (e.g. too old a version). */
        public java.lang.foreign.MemorySegment symbol(String name) {
            return lookup.find(name).orElseThrow(() -> new CudaException(search.what() + " at " + where + " has no function " + name
                    + " (CUDA 12 or 13 needed)"));
        }

        /** The function if the library has it. */
        public java.util.Optional<java.lang.foreign.MemorySegment> optional(String name) { return lookup.find(name); }
    }
}

package dev.jdiffusion.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The CUDA driver API ({@code libcuda.so.1}, installed with the NVIDIA driver) for what the runtime API cannot do
 * from Java: loading PTX text ({@code cuModuleLoadData}), finding kernels ({@code cuModuleGetFunction}) and launching
 * them ({@code cuLaunchKernel}). It works in the runtime's primary context: call {@link CudaRuntime#setDevice} (and
 * any runtime call that creates the context, e.g. a malloc) first, then {@link #usePrimaryContext(int)}; streams from
 * {@link CudaRuntime#streamCreate()} are valid {@code CUstream}s.
 *
 * <p><b>Untested on a GPU</b>: written from cuda.h of CUDA 13.0; only the "libcuda.so.1 not found" path runs here.
 */
public final class CudaDriver {
    private final CudaLibraries.Loaded lib;
    private final MethodHandle init, deviceGet, primaryCtxRetain, ctxSetCurrent, moduleLoadData, moduleUnload, moduleGetFunction,
            launchKernel, getErrorName, getErrorString;

    private CudaDriver(CudaLibraries.Loaded lib) {
        this.lib = lib;
        init = Native.handle(lib, "cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        deviceGet = Native.handle(lib, "cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        primaryCtxRetain = Native.handle(lib, "cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        ctxSetCurrent = Native.handle(lib, "cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        moduleLoadData = Native.handle(lib, "cuModuleLoadData", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        moduleUnload = Native.handle(lib, "cuModuleUnload", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        moduleGetFunction = Native.handle(lib, "cuModuleGetFunction", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        launchKernel = Native.handle(lib, "cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        getErrorName = Native.handle(lib, "cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        getErrorString = Native.handle(lib, "cuGetErrorString", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        check("cuInit(0)", Native.status(init, 0));
    }

    /**
     * Loads {@code libcuda.so.1} and calls {@code cuInit}.
     *
     * @throws CudaException the driver library is not installed (the message lists where it was looked for)
     */
    public static CudaDriver load(CudaLibraries libraries) {
        return new CudaDriver(libraries.driver().load(Arena.global()));
    }

    /** Makes device {@code ordinal}'s primary context (the one the runtime API uses) current for this thread. */
    public void usePrimaryContext(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(JAVA_INT), ctx = a.allocate(ADDRESS);
            check("cuDeviceGet(" + ordinal + ")", Native.status(deviceGet, dev, ordinal));
            check("cuDevicePrimaryCtxRetain", Native.status(primaryCtxRetain, ctx, dev.get(JAVA_INT, 0)));
            check("cuCtxSetCurrent", Native.status(ctxSetCurrent, ctx.get(ADDRESS, 0)));
        }
    }

    /** Loads a PTX module (NUL-terminated text) into the current context; the driver JIT-compiles it for the GPU. */
    public long loadModule(String ptx, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mod = a.allocate(ADDRESS);
            check("cuModuleLoadData(" + name + ")", Native.status(moduleLoadData, mod, a.allocateFrom(ptx)));
            return mod.get(ADDRESS, 0).address();
        }
    }

    public void unloadModule(long module) {
        check("cuModuleUnload", Native.status(moduleUnload, MemorySegment.ofAddress(module)));
    }

    /** The kernel {@code name} ({@code extern "C"}, so unmangled) of a module. */
    public long function(long module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ADDRESS);
            check("cuModuleGetFunction(" + name + ")", Native.status(moduleGetFunction, f, MemorySegment.ofAddress(module), a.allocateFrom(name)));
            return f.get(ADDRESS, 0).address();
        }
    }

    /**
     * Launches a kernel. {@code args} are the kernel's parameters in order: {@link Long} for device pointers and
     * 64-bit values, {@link Integer} and {@link Float} for 32-bit ones (each is copied into a native slot, and
     * {@code kernelParams} points at the slots, as cuLaunchKernel expects).
     */
    public void launch(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes,
                       long stream, Object... args) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ADDRESS, Math.max(1, args.length));
            for (int i = 0; i < args.length; i++) {
                MemorySegment slot = switch (args[i]) {
                    case Long l -> a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_LONG, l);
                    case Integer n -> a.allocateFrom(JAVA_INT, n);
                    case Float f -> a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, f);
                    default -> throw new IllegalArgumentException("kernel argument " + i + " is a " + args[i].getClass().getSimpleName()
                            + "; use Long, Integer or Float");
                };
                params.setAtIndex(ADDRESS, i, slot);
            }
            // kernelParams are copied by the driver when the launch is queued, so the slots may die after this call
            check("cuLaunchKernel", Native.status(launchKernel, MemorySegment.ofAddress(function), gridX, gridY, gridZ, blockX, blockY,
                    blockZ, sharedBytes, MemorySegment.ofAddress(stream), params, MemorySegment.NULL));
        }
    }

    private void check(String call, int code) {
        if (code == 0) return;
        String name = "CUresult " + code, text = "";
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            if (Native.status(getErrorName, code, p) == 0) name = Native.string(p.get(ADDRESS, 0), name);
            if (Native.status(getErrorString, code, p) == 0) text = ": " + Native.string(p.get(ADDRESS, 0), "");
        }
        String hint = switch (code) {
            case 100 -> " (no CUDA-capable GPU visible)";
            case 209, 222, 218 -> " (the PTX targets a newer toolkit or GPU than this driver supports; rebuild with tools/build-ptx)";
            default -> "";
        };
        throw new CudaException(call + " failed: " + name + text + hint + " (driver at " + lib.where() + ")", code, null);
    }
}

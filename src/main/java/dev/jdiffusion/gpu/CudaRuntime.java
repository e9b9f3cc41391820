package dev.jdiffusion.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA runtime API ({@code libcudart.so.13} or {@code .12}) through FFM downcalls: versions, devices, device
 * memory, copies and streams. Every failing call becomes one {@link CudaException} whose message says which runtime
 * was found where and what the error means (no driver, driver too old, no GPU, out of memory, ...).
 *
 * <p>Device memory is handled as raw addresses ({@code long}); a stream is an opaque address ({@code 0} is the
 * default stream). Linux x86-64/aarch64 only ({@code size_t} is 64-bit).
 *
 * <p>Verified here (no NVIDIA driver on the build machine): loading, {@link #runtimeVersion()},
 * {@link #driverVersion()}, and the "no driver" path of every device call. The calls on a real device (properties,
 * malloc, copies, streams) are written from the CUDA 13 headers but <b>not yet run on a GPU</b>.
 */
public final class CudaRuntime {
    /** cudaMemcpyKind values (driver_types.h). */
    static final int HOST_TO_DEVICE = 1, DEVICE_TO_HOST = 2, DEVICE_TO_DEVICE = 3;
    /** cudaDeviceAttr values (driver_types.h). */
    static final int ATTR_MULTIPROCESSORS = 16, ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76;
    /** cudaError_t values this class explains (driver_types.h). */
    static final int SUCCESS = 0, MEMORY_ALLOCATION = 2, STUB_LIBRARY = 34, INSUFFICIENT_DRIVER = 35, NO_DEVICE = 100,
            INVALID_DEVICE = 101, SYSTEM_DRIVER_MISMATCH = 803, COMPAT_NOT_SUPPORTED = 804;
    /** sizeof(cudaDeviceProp) is 1008 in CUDA 13; a larger buffer leaves room for later versions. */
    private static final long PROP_BUFFER = 8192, PROP_TOTAL_MEM_OFFSET = 288;

    private static volatile CudaRuntime shared;

    private final CudaLibraries.Loaded lib;
    private final int runtimeVersion;
    private final MethodHandle driverGetVersion, getDeviceCount, getDeviceProperties, deviceGetAttribute, setDevice,
            malloc, free, memcpy, memcpyAsync, memGetInfo, streamCreate, streamSynchronize, streamDestroy, deviceSynchronize,
            getErrorString, getErrorName;

    private CudaRuntime(CudaLibraries.Loaded lib) {
        this.lib = lib;
        FunctionDescriptor intPtr = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        MethodHandle rtVersion = Native.handle(lib, "cudaRuntimeGetVersion", intPtr);
        driverGetVersion = Native.handle(lib, "cudaDriverGetVersion", intPtr);
        getDeviceCount = Native.handle(lib, "cudaGetDeviceCount", intPtr);
        // CUDA 12 names the current struct layout cudaGetDeviceProperties_v2 (the old name keeps the 11.x ABI);
        // CUDA 13 exports it as cudaGetDeviceProperties. name[256] and totalGlobalMem (offset 288) agree in both.
        getDeviceProperties = Native.LINKER.downcallHandle(lib.optional("cudaGetDeviceProperties_v2")
                .orElseGet(() -> lib.symbol("cudaGetDeviceProperties")), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        deviceGetAttribute = Native.handle(lib, "cudaDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        setDevice = Native.handle(lib, "cudaSetDevice", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        malloc = Native.handle(lib, "cudaMalloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        free = Native.handle(lib, "cudaFree", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        memcpy = Native.handle(lib, "cudaMemcpy", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
        memcpyAsync = Native.handle(lib, "cudaMemcpyAsync", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
        memGetInfo = Native.handle(lib, "cudaMemGetInfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        streamCreate = Native.handle(lib, "cudaStreamCreate", intPtr);
        streamSynchronize = Native.handle(lib, "cudaStreamSynchronize", intPtr);
        streamDestroy = Native.handle(lib, "cudaStreamDestroy", intPtr);
        deviceSynchronize = Native.handle(lib, "cudaDeviceSynchronize", FunctionDescriptor.of(JAVA_INT));
        getErrorString = Native.handle(lib, "cudaGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        getErrorName = Native.handle(lib, "cudaGetErrorName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            int rc = Native.status(rtVersion, v);
            runtimeVersion = rc == SUCCESS ? v.get(JAVA_INT, 0) : 0;
        }
    }

    /**
     * The runtime found by {@link CudaLibraries#system()}, loaded once per process (into the global arena: a loaded
     * CUDA runtime is never unloaded).
     *
     * @throws CudaException no libcudart of CUDA 12 or 13 found (the message lists every place tried)
     */
    public static CudaRuntime load() {
        CudaRuntime r = shared;
        if (r == null) {
            synchronized (CudaRuntime.class) {
                r = shared;
                if (r == null) shared = r = load(CudaLibraries.system());
            }
        }
        return r;
    }

    /** The runtime found by {@code libraries} (not cached). */
    public static CudaRuntime load(CudaLibraries libraries) {
        return new CudaRuntime(libraries.cudart().load(Arena.global()));
    }

    /** Where the runtime was loaded from (a path, or a soname and "(system loader)"). */
    public String location() { return lib.where(); }

    /** The runtime's version, e.g. 13000 for 13.0. */
    public int runtimeVersion() { return runtimeVersion; }

    /** The newest CUDA version the installed driver supports, e.g. 13000; 0 when no driver is installed. */
    public int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            return Native.status(driverGetVersion, v) == SUCCESS ? v.get(JAVA_INT, 0) : 0;
        }
    }

    /** "CUDA runtime 13.0 found at /usr/local/cuda-13.0/lib/libcudart.so.13". */
    public String describe() {
        return "CUDA runtime " + Native.version(runtimeVersion) + " found at " + lib.where();
    }

    /** The number of CUDA devices. @throws CudaException no driver, driver too old, no device, ... */
    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("cudaGetDeviceCount", Native.status(getDeviceCount, n));
            return n.get(JAVA_INT, 0);
        }
    }

    /** Name, memory, compute capability and SM count of a device. */
    public CudaDeviceInfo properties(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prop = a.allocate(PROP_BUFFER, 8);
            check("cudaGetDeviceProperties(" + device + ")", Native.status(getDeviceProperties, prop, device));
            String name = prop.getString(0); // char name[256], NUL-terminated
            long total = prop.get(JAVA_LONG, PROP_TOTAL_MEM_OFFSET);
            return new CudaDeviceInfo(device, name, total, attribute(ATTR_CC_MAJOR, device), attribute(ATTR_CC_MINOR, device),
                    attribute(ATTR_MULTIPROCESSORS, device));
        }
    }

    /** cudaDeviceGetAttribute. */
    public int attribute(int attr, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cudaDeviceGetAttribute(" + attr + ", " + device + ")", Native.status(deviceGetAttribute, v, attr, device));
            return v.get(JAVA_INT, 0);
        }
    }

    /** Makes {@code device} current for this thread. */
    public void setDevice(int device) {
        check("cudaSetDevice(" + device + ")", Native.status(setDevice, device));
    }

    /** {free, total} bytes of the current device. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            check("cudaMemGetInfo", Native.status(memGetInfo, f, t));
            return new long[]{f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        }
    }

    /** Allocates {@code bytes} of device memory on the current device; returns its address. */
    public long malloc(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("cudaMalloc of " + bytes + " bytes");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cudaMalloc(" + bytes + " bytes)", Native.status(malloc, p, bytes));
            return p.get(ADDRESS, 0).address();
        }
    }

    /** Frees device memory from {@link #malloc} (0 is ignored, as cudaFree does). */
    public void free(long devicePtr) {
        check("cudaFree", Native.status(free, MemorySegment.ofAddress(devicePtr)));
    }

    /** Copies {@code bytes} from host memory to the device (synchronous). */
    public void copyToDevice(long dst, MemorySegment src, long bytes) {
        checkHost(src, bytes);
        check("cudaMemcpy(host to device, " + bytes + " bytes)", Native.status(memcpy, MemorySegment.ofAddress(dst), src, bytes, HOST_TO_DEVICE));
    }

    /** Copies {@code bytes} from the device to host memory (synchronous). */
    public void copyToHost(MemorySegment dst, long src, long bytes) {
        checkHost(dst, bytes);
        check("cudaMemcpy(device to host, " + bytes + " bytes)", Native.status(memcpy, dst, MemorySegment.ofAddress(src), bytes, DEVICE_TO_HOST));
    }

    /** Asynchronous host-to-device copy on {@code stream}; {@code src} must stay alive (and should be pinned) until it completes. */
    public void copyToDeviceAsync(long dst, MemorySegment src, long bytes, long stream) {
        checkHost(src, bytes);
        check("cudaMemcpyAsync(host to device)", Native.status(memcpyAsync, MemorySegment.ofAddress(dst), src, bytes, HOST_TO_DEVICE,
                MemorySegment.ofAddress(stream)));
    }

    /** Asynchronous device-to-host copy on {@code stream}. */
    public void copyToHostAsync(MemorySegment dst, long src, long bytes, long stream) {
        checkHost(dst, bytes);
        check("cudaMemcpyAsync(device to host)", Native.status(memcpyAsync, dst, MemorySegment.ofAddress(src), bytes, DEVICE_TO_HOST,
                MemorySegment.ofAddress(stream)));
    }

    private static void checkHost(MemorySegment s, long bytes) {
        if (bytes < 0 || s.byteSize() < bytes)
            throw new IllegalArgumentException("host segment of " + s.byteSize() + " bytes, copy of " + bytes + " bytes");
        if (!s.isNative()) throw new IllegalArgumentException("cudaMemcpy needs native (off-heap or mapped) host memory");
    }

    /** Creates a stream on the current device. */
    public long streamCreate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cudaStreamCreate", Native.status(streamCreate, p));
            return p.get(ADDRESS, 0).address();
        }
    }

    /** Waits until everything queued on {@code stream} has finished. */
    public void streamSynchronize(long stream) {
        check("cudaStreamSynchronize", Native.status(streamSynchronize, MemorySegment.ofAddress(stream)));
    }

    public void streamDestroy(long stream) {
        check("cudaStreamDestroy", Native.status(streamDestroy, MemorySegment.ofAddress(stream)));
    }

    public void deviceSynchronize() {
        check("cudaDeviceSynchronize", Native.status(deviceSynchronize));
    }

    /** cudaGetErrorString: "CUDA driver version is insufficient for CUDA runtime version". */
    public String errorString(int code) {
        return Native.string(Native.pointer(getErrorString, code), "unknown error " + code);
    }

    /** cudaGetErrorName: "cudaErrorInsufficientDriver". */
    public String errorName(int code) {
        return Native.string(Native.pointer(getErrorName, code), "cudaError " + code);
    }

    /** Throws the {@link CudaException} for a failed call's status; does nothing for cudaSuccess. */
    public void check(String call, int code) {
        if (code != SUCCESS) throw error(call, code);
    }

    /** The one-line exception for a failed call. */
    public CudaException error(String call, int code) {
        String name = errorName(code);
        String msg = switch (code) {
            case INSUFFICIENT_DRIVER -> {
                int drv = driverVersion();
                yield drv == 0 ? describe() + " but no NVIDIA driver is installed (" + name + ")"
                        : describe() + " but the NVIDIA driver supports only CUDA " + Native.version(drv) + " (" + name
                          + "); update the driver or use a CUDA " + drv / 1000 + " runtime";
            }
            case NO_DEVICE -> describe() + " but no CUDA-capable GPU is visible (" + name + "; check CUDA_VISIBLE_DEVICES)";
            case STUB_LIBRARY -> describe() + " but libcuda.so is the toolkit's stub, not a driver (" + name
                                 + "); remove the stubs folder from LD_LIBRARY_PATH";
            case SYSTEM_DRIVER_MISMATCH -> describe() + " but the NVIDIA driver library and kernel module versions differ (" + name
                                           + "); reboot or reinstall the driver";
            case COMPAT_NOT_SUPPORTED -> describe() + " but this GPU does not support the forward-compatibility driver (" + name + ")";
            case MEMORY_ALLOCATION -> "out of GPU memory in " + call + " (" + name + ")";
            default -> call + " failed: " + name + ": " + errorString(code) + " (" + describe() + ")";
        };
        return new CudaException(msg, code, null);
    }
}

package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdiffusion.io.AtomicFiles;
import dev.jdiffusion.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a {@code .safetensors} file as a stream: the tensor list (names, dtypes, shapes) is declared up front,
 * then the values are appended tensor by tensor, in declaration order, in chunks of any size; nothing but a
 * small buffer is held in memory. Values arrive as float (converted to F32, F16 or BF16, rounding to nearest
 * even) or as long (I64, I32).
 *
 * <p>The bytes go to a temporary file in the target's folder ({@link AtomicFiles}); {@link #commit()} checks that
 * every tensor is complete, fsyncs and atomically renames it onto the target. {@link #close()} without a commit deletes the
 * temporary file, so a failure never leaves a half-written target behind.
 *
 * <pre>{@code
 * try (var w = SafetensorsWriter.create(path, List.of(new Spec("w", DType.F16, 2, 3)), Map.of())) {
 *     w.writeTensor("w", values);
 *     w.commit();
 * }
 * }</pre>
 */
public final class SafetensorsWriter implements AutoCloseable {
    /**
     * One declared tensor.
     *
     * @param name the tensor's name: not null, not empty, not {@code __metadata__}
     * @param dtype the stored type: F32, F16, BF16, I64 or I32
     * @param shape the dimensions, none negative (copied); empty for a scalar
     */
    public record Spec(String name, DType dtype, long... shape) {
        /**
         * Validates and copies the declaration.
         *
         * @throws IllegalArgumentException for a bad name, a negative dimension or a dtype that cannot be written
         */
        public Spec {
            shape = shape.clone();
            if (name == null || name.isEmpty() || name.equals("__metadata__"))
                throw new IllegalArgumentException("bad tensor name '" + name + "'");
            for (long d : shape) if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
            if (!writable(dtype)) throw new IllegalArgumentException(name + ": cannot write dtype " + dtype);
        }

        /**
         * Element count.
         *
         * @return the product of the dimensions (1 for a scalar)
         * @throws ArithmeticException when it overflows a long
         */
        public long numel() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }

        /**
         * The dimensions.
         *
         * @return a copy of the shape
         */
        @Override public long[] shape() { return shape.clone(); }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BUFFER_BYTES = 1 << 22;

    private final Path target;
    private final AtomicFiles.Pending pending;
    private final FileChannel ch;
    private final List<Spec> specs;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private int current;        // index of the tensor being written
    private long writtenInCurrent;
    private boolean committed, closed;

    private SafetensorsWriter(Path target, AtomicFiles.Pending pending, FileChannel ch, List<Spec> specs) {
        this.target = target;
        this.pending = pending;
        this.ch = ch;
        this.specs = specs;
        skipEmpty();
    }

    static boolean writable(DType d) {
        return d == DType.F32 || d == DType.F16 || d == DType.BF16 || d == DType.I64 || d == DType.I32;
    }

    /**
     * Starts a file at target (written to a temporary sibling until {@link #commit()}). Tensors are laid out in
     * the order given; metadata may be empty. Missing parent folders are created.
     *
     * @param target the file to write
     * @param specs the tensors, in file order; names must be distinct
     * @param metadata string metadata for the header's {@code __metadata__}; may be empty or null
     * @return the writer; the caller must {@link #commit()} it and close it
     * @throws IllegalArgumentException when a tensor name is declared twice
     * @throws UncheckedIOException naming the target when the temporary file cannot be created or written
     */
    public static SafetensorsWriter create(Path target, List<Spec> specs, Map<String, String> metadata) {
        Set<String> seen = new HashSet<>();
        for (Spec s : specs)
            if (!seen.add(s.name())) throw new IllegalArgumentException(target + ": tensor " + s.name() + " declared twice");
        byte[] header = header(specs, metadata);
        AtomicFiles.Pending pending = null;
        FileChannel ch = null;
        try {
            Path dir = target.toAbsolutePath().getParent();
            if (dir != null) Files.createDirectories(dir);
            pending = AtomicFiles.start(target);
            ch = FileChannel.open(pending.temp(), StandardOpenOption.WRITE);
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(header));
            return new SafetensorsWriter(target, pending, ch, List.copyOf(specs));
        } catch (IOException e) {
            closeQuietly(ch);
            if (pending != null) pending.close();
            throw new UncheckedIOException(target + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes so the data area starts aligned. */
    static byte[] header(List<Spec> specs, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long off = 0;
        for (Spec s : specs) {
            ObjectNode t = root.putObject(s.name());
            t.put("dtype", s.dtype().name());
            ArrayNode sh = t.putArray("shape");
            for (long d : s.shape) sh.add(d);
            long end = Math.addExact(off, Math.multiplyExact(s.numel(), s.dtype().bytes()));
            t.putArray("data_offsets").add(off).add(end);
            off = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int padded = (json.length + 7) & ~7;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /**
     * The tensor the next values go to.
     *
     * @return its name, or null when all tensors are complete
     */
    public String currentTensor() { return current < specs.size() ? specs.get(current).name() : null; }

    /**
     * Writes one whole tensor of float values, converted to its dtype.
     *
     * @param name the next declared tensor, none of whose values are written yet
     * @param values all its values, row-major
     * @throws IllegalStateException when {@code name} is not the next tensor, or the writer is closed or complete
     * @throws IllegalArgumentException when the value count differs from the tensor's or its dtype is an integer type
     * @throws UncheckedIOException when writing fails
     */
    public void writeTensor(String name, float[] values) {
        expectStart(name, values.length);
        write(values, 0, values.length);
    }

    /**
     * Writes one whole tensor of integer values, converted to its dtype.
     *
     * @param name the next declared tensor, none of whose values are written yet
     * @param values all its values, row-major
     * @throws IllegalStateException when {@code name} is not the next tensor, or the writer is closed or complete
     * @throws IllegalArgumentException when the value count differs from the tensor's or its dtype is a floating type
     * @throws ArithmeticException when a value does not fit an I32 tensor
     * @throws UncheckedIOException when writing fails
     */
    public void writeTensor(String name, long[] values) {
        expectStart(name, values.length);
        write(values, 0, values.length);
    }

    private void expectStart(String name, long count) {
        Spec s = spec();
        if (!s.name().equals(name) || writtenInCurrent != 0)
            throw new IllegalStateException(target + ": expected the values of tensor " + s.name() + " next, not " + name);
        if (count != s.numel())
            throw new IllegalArgumentException(target + ": tensor " + name + " " + Arrays.toString(s.shape) + " needs " + s.numel()
                    + " values, got " + count);
    }

    private Spec spec() {
        if (closed) throw new IllegalStateException(target + ": writer is closed");
        if (current >= specs.size()) throw new IllegalStateException(target + ": all tensors are already written");
        return specs.get(current);
    }

    /**
     * Appends float values to the current tensor, moving on to the next one when it is full.
     *
     * @param src the values
     * @param off the first value's index in {@code src}
     * @param len the number of values
     * @throws IllegalStateException when the writer is closed or more values are given than remain to be written
     * @throws IllegalArgumentException when a tensor the values go to has an integer dtype
     * @throws UncheckedIOException when writing fails
     */
    public void write(float[] src, int off, int len) {
        while (len > 0) {
            Spec s = spec();
            if (!s.dtype().isFloating())
                throw new IllegalArgumentException(target + ": tensor " + s.name() + " is " + s.dtype() + ": write longs, not floats");
            int n = (int) Math.min(len, s.numel() - writtenInCurrent);
            int i = 0;
            while (i < n) {
                if (buf.remaining() < 4) flush();
                int room = buf.remaining() / s.dtype().bytes();
                int end = Math.min(n, i + room);
                switch (s.dtype()) {
                    case F32 -> { for (; i < end; i++) buf.putFloat(src[off + i]); }
                    case F16 -> { for (; i < end; i++) buf.putShort(Float.floatToFloat16(src[off + i])); }
                    case BF16 -> { for (; i < end; i++) buf.putShort(toBf16(src[off + i])); }
                    default -> throw new IllegalStateException();
                }
            }
            advance(n);
            off += n;
            len -= n;
        }
    }

    /**
     * Appends integer values to the current tensor (I64 or I32), moving on to the next one when it is full.
     *
     * @param src the values
     * @param off the first value's index in {@code src}
     * @param len the number of values
     * @throws IllegalStateException when the writer is closed or more values are given than remain to be written
     * @throws IllegalArgumentException when a tensor the values go to has a floating dtype
     * @throws ArithmeticException when a value does not fit an I32 tensor
     * @throws UncheckedIOException when writing fails
     */
    public void write(long[] src, int off, int len) {
        while (len > 0) {
            Spec s = spec();
            if (s.dtype() != DType.I64 && s.dtype() != DType.I32)
                throw new IllegalArgumentException(target + ": tensor " + s.name() + " is " + s.dtype() + ": write floats, not longs");
            int n = (int) Math.min(len, s.numel() - writtenInCurrent);
            for (int i = 0; i < n; i++) {
                if (buf.remaining() < 8) flush();
                if (s.dtype() == DType.I64) buf.putLong(src[off + i]);
                else buf.putInt(Math.toIntExact(src[off + i]));
            }
            advance(n);
            off += n;
            len -= n;
        }
    }

    /** float32 to bfloat16, rounding to nearest even; NaN stays NaN. */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    private void advance(int n) {
        writtenInCurrent += n;
        if (writtenInCurrent == specs.get(current).numel()) {
            current++;
            writtenInCurrent = 0;
            skipEmpty();
        }
    }

    private void skipEmpty() {
        while (current < specs.size() && specs.get(current).numel() == 0) current++;
    }

    private void flush() {
        buf.flip();
        try {
            writeFully(ch, buf);
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": write failed: " + e.getMessage(), e);
        }
        buf.clear();
    }

    /**
     * Checks every tensor is complete, fsyncs and renames the file onto the target atomically; closes the writer
     * whether or not it succeeds.
     *
     * @throws IllegalStateException when the writer is closed or a tensor is incomplete
     * @throws UncheckedIOException naming the target when writing, syncing or renaming fails
     */
    public void commit() {
        if (closed) throw new IllegalStateException(target + ": writer is closed");
        if (current < specs.size())
            throw new IllegalStateException(target + ": tensor " + specs.get(current).name() + " is incomplete ("
                    + writtenInCurrent + " of " + specs.get(current).numel() + " values written)");
        flush();
        try {
            ch.close();
            pending.commit();
            committed = true;
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot finish writing: " + e.getMessage(), e);
        } finally {
            close();
        }
    }

    /** Releases the file; without a successful {@link #commit()} the temporary file is deleted. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        closeQuietly(ch);
        pending.close();
    }

    /**
     * Writes whole heap tensors to path in one dtype (F32, F16 or BF16), in the map's order, atomically.
     *
     * @param path the file to write
     * @param tensors the tensors by name, in file order
     * @param dtype the stored type for all of them: F32, F16 or BF16
     * @param metadata string metadata for the header; may be empty or null
     * @throws IllegalArgumentException for a bad name or a dtype that is not floating
     * @throws UncheckedIOException naming the file when writing fails (the target is then unchanged)
     */
    public static void write(Path path, Map<String, Tensor> tensors, DType dtype, Map<String, String> metadata) {
        List<Spec> specs = new ArrayList<>();
        tensors.forEach((n, t) -> specs.add(new Spec(n, dtype, Arrays.stream(t.shape()).asLongStream().toArray())));
        try (SafetensorsWriter w = create(path, specs, metadata)) {
            tensors.forEach((n, t) -> w.writeTensor(n, t.data()));
            w.commit();
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing more to do: the file is deleted or already complete
        }
    }
}

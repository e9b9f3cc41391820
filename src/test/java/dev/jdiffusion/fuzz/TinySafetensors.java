package dev.jdiffusion.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds small valid F32 safetensors files in memory (seeds and fixtures for the fuzz targets). */
final class TinySafetensors {
    private TinySafetensors() {}

    /** name -> shape; every tensor F32, filled with 0, 1, 2, ... */
    static byte[] f32(Map<String, long[]> tensors) {
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : tensors.entrySet()) {
            long n = 1;
            for (long d : e.getValue()) n *= d;
            if (h.length() > 1) h.append(',');
            h.append('"').append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(java.util.Arrays.toString(e.getValue()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(off).append(',').append(off + 4 * n).append("]}");
            sizes.put(e.getKey(), n);
            off += 4 * n;
        }
        h.append('}');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate((int) (8 + header.length + off)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        float v = 0;
        for (long n : sizes.values()) for (long i = 0; i < n; i++) b.putFloat(v++);
        return b.array();
    }

    static byte[] f32(String name, long... shape) {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(name, shape);
        return f32(m);
    }
}

package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A sharded checkpoint ({@code *.safetensors.index.json}: {@code weight_map} from tensor name to shard file),
 * opened as one namespace. Shards must be plain file names in the index's folder, and every tensor named in
 * the index must be in the shard the index names.
 */
public final class ShardedIndex {
    private ShardedIndex() {}

    /**
     * Opens and validates the index and all its shards; closes whatever it opened when anything is wrong.
     *
     * @param indexFile the {@code *.safetensors.index.json} file
     * @return one source over all shards; the caller owns it and must close it
     * @throws ModelFormatException when the index is missing or malformed, names a bad or missing shard, or names a
     *     tensor its shard does not hold
     */
    public static TensorSource open(Path indexFile) {
        if (!Files.isRegularFile(indexFile)) throw new ModelFormatException(indexFile + ": no such index file");
        JsonNode root = Checkpoint.readJson(indexFile);
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new ModelFormatException(indexFile + ": no weight_map object");
        if (wm.isEmpty()) throw new ModelFormatException(indexFile + ": weight_map is empty (no shard files)");
        Map<String, String> map = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = wm.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            String shard = v.isTextual() ? v.asText() : "";
            if (!isPlainFileName(shard))
                throw new ModelFormatException(indexFile + ": tensor " + e.getKey() + " names a bad shard " + v
                        + " (must be a file name in the same folder)");
            map.put(e.getKey(), shard);
        }
        Path dir = indexFile.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        try {
            for (String s : map.values()) {
                if (shards.containsKey(s)) continue;
                Path p = dir.resolve(s);
                if (!Files.isRegularFile(p)) throw new ModelFormatException(indexFile + ": shard " + s + " is missing");
                shards.put(s, SafetensorsFile.open(p));
            }
            for (Map.Entry<String, String> e : map.entrySet())
                if (!shards.get(e.getValue()).contains(e.getKey()))
                    throw new ModelFormatException(indexFile + ": tensor " + e.getKey() + " is not in shard " + e.getValue());
            return new MultiSource(indexFile.toString(), new ArrayList<>(shards.values()));
        } catch (RuntimeException ex) {
            for (SafetensorsFile f : shards.values()) f.close();
            throw ex;
        }
    }

    /** A shard name is a plain file name: no separators, not "." or "..", no drive or NUL. */
    static boolean isPlainFileName(String s) {
        return !s.isEmpty() && !s.equals(".") && !s.equals("..") && s.indexOf('/') < 0 && s.indexOf('\\') < 0
                && s.indexOf(':') < 0 && s.indexOf('\0') < 0;
    }

}

package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A sharded checkpoint ({@code *.safetensors.index.json}: {@code weight_map} from tensor name to shard file),
 * opened as one namespace. Every tensor named in the index must be in its shard.
 */
public final class ShardedIndex {
    private ShardedIndex() {}

    public static TensorSource open(Path indexFile) {
        JsonNode root = Checkpoint.readJson(indexFile);
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new ModelFormatException(indexFile + ": no weight_map object");
        Map<String, String> map = new LinkedHashMap<>();
        Set<String> shardNames = new LinkedHashSet<>();
        Iterator<Map.Entry<String, JsonNode>> it = wm.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String shard = e.getValue().asText("");
            if (!isPlainFileName(shard))
                throw new ModelFormatException(indexFile + ": tensor " + e.getKey() + " names a bad shard '" + shard + "'");
            map.put(e.getKey(), shard);
            shardNames.add(shard);
        }
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            for (String s : shardNames) {
                Path p = indexFile.resolveSibling(s);
                if (!Files.isRegularFile(p)) throw new ModelFormatException(indexFile + ": shard " + s + " is missing");
                shards.add(SafetensorsFile.open(p));
            }
            MultiSource all = new MultiSource(indexFile.toString(), shards);
            for (Map.Entry<String, String> e : map.entrySet()) {
                TensorView t = all.find(e.getKey());
                if (t == null || !t.source().endsWith(e.getValue()))
                    throw new ModelFormatException(indexFile + ": tensor " + e.getKey() + " is not in shard " + e.getValue());
            }
            return all;
        } catch (RuntimeException ex) {
            for (SafetensorsFile f : shards) f.close();
            throw ex;
        }
    }

    /** A file name in the index's own folder: no separators, not "." or "..", and valid as a path here (no NUL). */
    private static boolean isPlainFileName(String shard) {
        if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..") || shard.equals(".")) return false;
        try {
            Path.of(shard);
            return true;
        } catch (InvalidPathException e) {
            return false;
        }
    }
}

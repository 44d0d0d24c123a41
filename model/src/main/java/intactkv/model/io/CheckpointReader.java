package intactkv.model.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensors of a Hugging Face checkpoint directory: {@code model.safetensors}, or the shards
 * listed in {@code model.safetensors.index.json} ({@code {"weight_map": {tensor: shard file}}}).
 * Shards are opened lazily and tensors read one at a time.
 */
public final class CheckpointReader implements AutoCloseable {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final Map<String, Path> shardOf;
    private final Map<Path, SafetensorsReader> open = new LinkedHashMap<>();

    private CheckpointReader(Path dir, Map<String, Path> shardOf) {
        this.dir = dir;
        this.shardOf = shardOf;
    }

    /** Opens the checkpoint in {@code dir}; errors name the directory and what is missing. */
    public static CheckpointReader open(Path dir) throws IOException {
        Path single = dir.resolve(SINGLE);
        Path index = dir.resolve(INDEX);
        Map<String, Path> shardOf = new LinkedHashMap<>();
        if (Files.isRegularFile(single)) {
            try (SafetensorsReader r = SafetensorsReader.open(single)) {
                for (String n : r.names()) {
                    shardOf.put(n, single);
                }
            }
        } else if (Files.isRegularFile(index)) {
            JsonObject map;
            try {
                JsonElement root = JsonParser.parseString(Files.readString(index, StandardCharsets.UTF_8));
                map = root.getAsJsonObject().getAsJsonObject("weight_map");
                if (map == null) {
                    throw new IOException(index + ": no \"weight_map\" object");
                }
            } catch (JsonParseException | IllegalStateException e) {
                throw new IOException(index + ": not a valid index file: " + e.getMessage(), e);
            }
            for (Map.Entry<String, JsonElement> e : map.entrySet()) {
                Path shard = dir.resolve(e.getValue().getAsString()).normalize();
                if (!shard.startsWith(dir.normalize()) || !Files.isRegularFile(shard)) {
                    throw new IOException(index + ": tensor '" + e.getKey() + "' is in shard '"
                            + e.getValue().getAsString() + "', which does not exist in " + dir);
                }
                shardOf.put(e.getKey(), shard);
            }
        } else {
            throw new IOException(dir + ": no " + SINGLE + " or " + INDEX + " found");
        }
        return new CheckpointReader(dir, shardOf);
    }

    public Path dir() {
        return dir;
    }

    public List<String> names() {
        return new ArrayList<>(shardOf.keySet());
    }

    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    private SafetensorsReader shard(String name) throws IOException {
        Path p = shardOf.get(name);
        if (p == null) {
            throw new IOException(dir + ": checkpoint has no tensor '" + name + "'");
        }
        SafetensorsReader r = open.get(p);
        if (r == null) {
            r = SafetensorsReader.open(p);
            open.put(p, r);
        }
        if (!r.contains(name)) {
            throw new IOException(p + ": the index lists tensor '" + name + "' in this shard, but it is not there");
        }
        return r;
    }

    /** The header entry of {@code name}. */
    public SafetensorsReader.Entry entry(String name) throws IOException {
        return shard(name).entry(name);
    }

    /** Reads {@code name} as doubles. */
    public Tensor read(String name) throws IOException {
        return shard(name).read(name);
    }

    @Override
    public void close() throws IOException {
        for (SafetensorsReader r : open.values()) {
            r.close();
        }
        open.clear();
    }
}

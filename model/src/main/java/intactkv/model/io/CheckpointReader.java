package intactkv.model.io;

import com.google.gson.JsonElement;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
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
            JsonFields map = JsonFile.read(index).object("weight_map");
            for (Map.Entry<String, JsonElement> e : map.entries()) {
                String file = map.stringValue(e.getValue(), "weight_map." + e.getKey());
                Path shard;
                try {
                    shard = dir.resolve(file).normalize();
                } catch (java.nio.file.InvalidPathException bad) {
                    throw new FormatException(index, "tensor '" + e.getKey() + "' names shard '" + file
                            + "', which is not a file name: " + bad.getMessage(), bad);
                }
                if (!shard.startsWith(dir.normalize()) || !Files.isRegularFile(shard)) {
                    throw new FormatException(index, "tensor '" + e.getKey() + "' is in shard '" + file
                            + "', which does not exist in " + dir);
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

    /** The file ({@code model.safetensors} or a shard) that holds tensor {@code name}, or null when none does. */
    public Path file(String name) {
        return shardOf.get(name);
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
            throw new FormatException(p, "the index lists tensor '" + name + "' in this shard, but it is not there");
        }
        return r;
    }

    /** The header entry of {@code name}. */
    public SafetensorsReader.Entry entry(String name) throws IOException {
        return shard(name).entry(name);
    }

    /** Where {@code name}'s bytes are: its file and offsets ({@link SafetensorsReader#range}). */
    public ReadAhead.Range range(String name) throws IOException {
        return shard(name).range(name);
    }

    /**
     * Where decoder layer {@code l}'s bytes are: every tensor named {@code model.layers.<l>.} (a packed checkpoint's
     * codes, scales and zeros included), sorted by file and offset; what {@link ReadAhead} reads before the layer.
     */
    public List<ReadAhead.Range> layerRanges(int l) throws IOException {
        String prefix = "model.layers." + l + ".";
        List<ReadAhead.Range> ranges = new ArrayList<>();
        for (String name : shardOf.keySet()) {
            if (name.startsWith(prefix)) {
                ranges.add(range(name));
            }
        }
        ranges.sort(Comparator.comparing((ReadAhead.Range r) -> r.file().toString())
                .thenComparingLong(ReadAhead.Range::from));
        return ranges;
    }

    /** Reads {@code name} as doubles. */
    public Tensor read(String name) throws IOException {
        return shard(name).read(name);
    }

    /** Reads {@code name} as doubles, refusing NaN and infinite elements ({@link SafetensorsReader#readFinite}). */
    public Tensor readFinite(String name) throws IOException {
        return shard(name).readFinite(name);
    }

    /** Refuses {@code name} if an element is NaN or infinite, keeping nothing ({@link SafetensorsReader#checkFinite}). */
    public void checkFinite(String name) throws IOException {
        shard(name).checkFinite(name);
    }

    /** Reads integer tensor {@code name} ({@code I64} or {@code I32}) as longs ({@link SafetensorsReader#readLongs}). */
    public long[] readLongs(String name) throws IOException {
        return shard(name).readLongs(name);
    }

    /** Reads {@code name} in its own dtype where that is compact ({@link SafetensorsReader#readStored}). */
    public Tensor readStored(String name) throws IOException {
        return shard(name).readStored(name);
    }

    @Override
    public void close() throws IOException {
        for (SafetensorsReader r : open.values()) {
            r.close();
        }
        open.clear();
    }
}

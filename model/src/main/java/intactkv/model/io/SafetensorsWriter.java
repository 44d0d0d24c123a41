package intactkv.model.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Collects named tensors and writes them as one safetensors file (format in
 * {@link SafetensorsReader}), atomically through {@link AtomicFiles}. Values are converted
 * from double to the requested dtype on write: F32 by Java's round-to-nearest-even cast, F16 and
 * BF16 by {@link HalfFloat}, I64/I32 only from integral values. The header is padded with
 * spaces to a multiple of 8 bytes, as Hugging Face's writer does.
 *
 * <p>Memory: the writer keeps references, not converted copies. The header (names, dtypes, shapes,
 * offsets) needs only the shapes, so it is written first; then each tensor is converted and written
 * in chunks of at most 1 MiB, and a tensor added through a {@link Supplier} is made only when its turn
 * comes and dropped after it is written. Writing therefore holds at most one supplied tensor besides the
 * 1 MiB buffer, instead of every converted tensor at once (issue 27: a 1.1 B-parameter checkpoint held
 * 8.8 GB of doubles this way). A tensor on a {@link WeightStorage} (a weight kept in its file's dtype or as
 * codes) is converted to double 1 MiB at a time, never whole. The tensors given must therefore not change
 * between {@code put} and {@link #write}.
 */
public final class SafetensorsWriter {
    /** How many output bytes one conversion chunk holds. */
    private static final int CHUNK_BYTES = 1 << 20;

    /** One tensor: exactly one of {@code values} (floating dtypes) and {@code longs} (integer dtypes) is set. */
    private record Item(DType dtype, Shape shape, Supplier<Tensor> values, Supplier<long[]> longs) {
    }

    private final Map<String, Item> items = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /**
     * Adds tensor {@code name}, to be stored as {@code dtype}. An integer dtype is checked and converted
     * now (every element must be integral); a floating dtype keeps {@code t} and converts it on write.
     */
    public SafetensorsWriter put(String name, DType dtype, Tensor t) {
        if (dtype.isInteger()) {
            long[] l = new long[t.numel()];
            double[] d = t.data(); // once: a stored tensor's data() is a fresh copy per call
            for (int i = 0; i < l.length; i++) {
                double v = d[i];
                if (v != Math.rint(v)) {
                    throw new IllegalArgumentException("tensor '" + name + "': element " + i + " = " + v
                            + " is not an integer, cannot store as " + dtype);
                }
                l[i] = (long) v;
            }
            return putLongs(name, dtype, l, t.shape());
        }
        return put(name, dtype, t.shape(), () -> t);
    }

    /**
     * Adds floating tensor {@code name} of shape {@code shape}, made by {@code values} only when
     * {@link #write} reaches it and released after it is written (so that a tensor computed for the file,
     * such as a scale table, is not held beside all the others). {@code values} must return a tensor of
     * shape {@code shape}; it is checked on write.
     */
    public SafetensorsWriter put(String name, DType dtype, Shape shape, Supplier<Tensor> values) {
        if (dtype.isInteger()) {
            throw new IllegalArgumentException("tensor '" + name + "': a supplied tensor is stored as F64, F32, F16 or"
                    + " BF16, not " + dtype + " (use putLongs)");
        }
        return add(name, new Item(dtype, shape, values, null));
    }

    /** Adds integer tensor {@code name} ({@code I64} or {@code I32}). */
    public SafetensorsWriter putLongs(String name, DType dtype, long[] values, Shape shape) {
        if (!dtype.isInteger() || values.length != shape.numel()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " integers of shape "
                    + shape + " as " + dtype);
        }
        return add(name, new Item(dtype, shape, null, () -> values));
    }

    /**
     * Adds integer tensor {@code name} ({@code I64} or {@code I32}) of shape {@code shape}, its
     * {@code shape.numel()} values made by {@code values} only when {@link #write} reaches it (checked then)
     * and released after it is written.
     */
    public SafetensorsWriter putLongs(String name, DType dtype, Shape shape, Supplier<long[]> values) {
        if (!dtype.isInteger()) {
            throw new IllegalArgumentException("tensor '" + name + "': integers of shape " + shape + " as " + dtype);
        }
        return add(name, new Item(dtype, shape, null, values));
    }

    private SafetensorsWriter add(String name, Item item) {
        if (name.equals("__metadata__") || items.putIfAbsent(name, item) != null) {
            throw new IllegalArgumentException("tensor name '" + name + "' is reserved or used twice");
        }
        return this;
    }

    /** Adds a {@code __metadata__} string. */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Writes the file (temporary name, then rename): the header from the shapes, then tensor by tensor. */
    public void write(Path file) throws IOException {
        byte[] hb = header();
        AtomicFiles.write(file, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length);
            out.write(len.array());
            out.write(hb);
            ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (Map.Entry<String, Item> e : items.entrySet()) {
                writeData(out, e.getKey(), e.getValue(), buf);
            }
        });
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes, from the names, dtypes and shapes alone. */
    private byte[] header() {
        JsonObject header = new JsonObject();
        if (!metadata.isEmpty()) {
            JsonObject m = new JsonObject();
            metadata.forEach(m::addProperty);
            header.add("__metadata__", m);
        }
        long offset = 0;
        for (Map.Entry<String, Item> e : items.entrySet()) {
            Item it = e.getValue();
            long bytes = (long) it.shape().numel() * it.dtype().bytes();
            JsonObject t = new JsonObject();
            t.addProperty("dtype", it.dtype().name());
            JsonArray shape = new JsonArray();
            for (int d : it.shape().dims()) {
                shape.add(d);
            }
            t.add("shape", shape);
            JsonArray off = new JsonArray();
            off.add(offset);
            off.add(offset + bytes);
            t.add("data_offsets", off);
            header.add(e.getKey(), t);
            offset += bytes;
        }
        StringBuilder json = new StringBuilder(header.toString());
        while ((8 + json.length()) % 8 != 0) {
            json.append(' ');
        }
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Converts and writes one tensor through {@code buf}; whatever its supplier made is unreachable once this
     * returns. A supplied value of another size than the header announced would corrupt every later offset, so
     * it is refused (the temporary file is then removed by {@link AtomicFiles}).
     */
    private static void writeData(OutputStream out, String name, Item it, ByteBuffer buf) throws IOException {
        int n = it.shape().numel();
        int per = it.dtype().bytes();
        int chunk = CHUNK_BYTES / per;
        if (it.longs() != null) {
            long[] longs = it.longs().get();
            if (longs.length != n) {
                throw new IllegalStateException("tensor '" + name + "': " + longs.length + " integers supplied for shape "
                        + it.shape());
            }
            for (int at = 0; at < n; at += chunk) {
                buf.clear();
                int count = Math.min(chunk, n - at);
                for (int i = at; i < at + count; i++) {
                    if (it.dtype() == DType.I64) {
                        buf.putLong(longs[i]);
                    } else {
                        buf.putInt(Math.toIntExact(longs[i]));
                    }
                }
                out.write(buf.array(), 0, buf.position());
            }
            return;
        }
        Tensor t = it.values().get();
        if (!t.shape().equals(it.shape())) {
            throw new IllegalStateException("tensor '" + name + "': supplied shape " + t.shape() + ", header says "
                    + it.shape());
        }
        WeightStorage storage = t.storage();
        double[] dense = storage == null ? t.data() : null; // the backing array itself, not a copy
        double[] part = storage == null ? null : new double[Math.min(chunk, Math.max(n, 1))];
        for (int at = 0; at < n; at += chunk) {
            buf.clear();
            int count = Math.min(chunk, n - at);
            double[] src = dense;
            int base = at;
            if (storage != null) {
                storage.toDouble(at, count, part, 0);
                src = part;
                base = 0;
            }
            for (int i = base; i < base + count; i++) {
                switch (it.dtype()) {
                    case F64 -> buf.putDouble(src[i]);
                    case F32 -> buf.putFloat((float) src[i]);
                    case F16 -> buf.putShort(HalfFloat.toFp16Bits(src[i]));
                    case BF16 -> buf.putShort(HalfFloat.toBf16Bits(src[i]));
                    default -> throw new IllegalStateException("tensor '" + name + "': integer dtype " + it.dtype()
                            + " with floating values");
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
    }
}

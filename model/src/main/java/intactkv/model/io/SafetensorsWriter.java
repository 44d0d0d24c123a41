package intactkv.model.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects named tensors and writes them as one safetensors file (format in
 * {@link SafetensorsReader}), atomically through {@link AtomicFiles}. Values are converted
 * from double to the requested dtype on write: F32 by Java's round-to-nearest-even cast, F16 and
 * BF16 by {@link HalfFloat}, I64/I32 only from integral values. The header is padded with
 * spaces to a multiple of 8 bytes, as Hugging Face's writer does.
 */
public final class SafetensorsWriter {
    private record Item(DType dtype, Shape shape, double[] values, long[] longs) {
    }

    private final Map<String, Item> items = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds tensor {@code name}, to be stored as {@code dtype}. */
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
        return add(name, new Item(dtype, t.shape(), t.data(), null));
    }

    /** Adds integer tensor {@code name} ({@code I64} or {@code I32}). */
    public SafetensorsWriter putLongs(String name, DType dtype, long[] values, Shape shape) {
        if (!dtype.isInteger() || values.length != shape.numel()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " integers of shape "
                    + shape + " as " + dtype);
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

    /** Writes the file (temporary name, then rename). */
    public void write(Path file) throws IOException {
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
        byte[] hb = json.toString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(file, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length);
            out.write(len.array());
            out.write(hb);
            for (Item it : items.values()) {
                writeData(out, it);
            }
        });
    }

    private static void writeData(java.io.OutputStream out, Item it) throws IOException {
        int n = it.shape().numel();
        int per = it.dtype().bytes();
        int chunk = Math.max(1, (1 << 20) / per);
        ByteBuffer buf = ByteBuffer.allocate(Math.min(Math.max(n, 1), chunk) * per).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < n; at += chunk) {
            buf.clear();
            int count = Math.min(chunk, n - at);
            for (int i = at; i < at + count; i++) {
                switch (it.dtype()) {
                    case F64 -> buf.putDouble(it.values()[i]);
                    case F32 -> buf.putFloat((float) it.values()[i]);
                    case F16 -> buf.putShort(HalfFloat.toFp16Bits(it.values()[i]));
                    case BF16 -> buf.putShort(HalfFloat.toBf16Bits(it.values()[i]));
                    case I64 -> buf.putLong(it.longs()[i]);
                    case I32 -> buf.putInt(Math.toIntExact(it.longs()[i]));
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
    }
}

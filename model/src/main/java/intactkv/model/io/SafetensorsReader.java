package intactkv.model.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import intactkv.tensor.Bf16Storage;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.F16Storage;
import intactkv.tensor.F32Storage;
import intactkv.tensor.RowBlocks;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import intactkv.tensor.WeightStorage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a safetensors file: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}}),
 * then the data, little-endian, offsets relative to the end of the header.
 *
 * <p>Only the header is read when the file is opened, and it is validated completely first:
 * its length against the file size (nothing is allocated from an unchecked length), every
 * dtype, every offset pair against the data size and the element count, and no two tensors
 * overlapping. Tensors are then read one at a time, converted to double ({@link #read}) or kept in
 * their own dtype ({@link #readStored}), so a checkpoint is never held twice in memory.
 */
public final class SafetensorsReader implements AutoCloseable {
    /** Largest header accepted (the format's own limit is 100 MB). */
    private static final long MAX_HEADER = 100L << 20;

    /** Where one tensor is. */
    public record Entry(String name, DType dtype, Shape shape, long begin, long end) {
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsReader(Path file, FileChannel channel, long dataStart, Map<String, Entry> entries,
                              Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /**
     * The first line of {@code file} (at most 40 characters, shown with Java escapes) when its
     * first bytes are text, else null: what a message shows when a text file is given where a
     * safetensors file is needed. A safetensors file begins with its header length as a
     * little-endian 64-bit integer below 100 MB, so its bytes 4..7 are zero, which no text has;
     * text here is up to 64 bytes of valid UTF-8 (a character cut at the end allowed) without
     * control characters other than tab, line feed and carriage return.
     */
    public static String textStart(Path file) throws IOException {
        byte[] head;
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
            head = in.readNBytes(64);
        }
        if (head.length < 8) {
            return null;
        }
        for (byte b : head) {
            if (b >= 0 && b < 0x20 && b != '\t' && b != '\n' && b != '\r' || b == 0x7f) {
                return null;
            }
        }
        int end = head.length;
        if (end == 64) { // a character cut at byte 64: drop its bytes
            int lead = end - 1;
            while (lead > end - 4 && (head[lead] & 0xC0) == 0x80) {
                lead--;
            }
            int b = head[lead] & 0xFF;
            int len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (lead + len > end) {
                end = lead;
            }
        }
        String s;
        try {
            s = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .decode(ByteBuffer.wrap(head, 0, end)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return null;
        }
        String line = s.lines().findFirst().orElse("");
        line = line.length() > 40 ? line.substring(0, 40) + "..." : line;
        return line.replace("\\", "\\\\").replace("\"", "\\\"").replace("\t", "\\t");
    }

    /** Opens and validates {@code file}; see the class comment. */
    public static SafetensorsReader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new FormatException(file, "truncated safetensors file (" + size + " bytes, need at least 8)");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0, file);
            long n = len.flip().getLong();
            if (n < 2 || n > MAX_HEADER || n > size - 8) {
                String text = textStart(file);
                throw new FormatException(file, (text != null ? "not a safetensors file: it begins with text \"" + text
                        + "\" (" : "") + "header length " + Long.toUnsignedString(n) + " is impossible for a file of "
                        + size + " bytes" + (text != null ? ")" : ""));
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8, file);
            String json = Utf8.decode(hb.array(), file + " (safetensors header)");
            long dataSize = size - 8 - n;
            Map<String, String> meta = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(file, json, dataSize, meta);
            return new SafetensorsReader(file, ch, 8 + n, entries, meta);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path file, String json, long dataSize, Map<String, String> meta)
            throws IOException {
        JsonFields root;
        try {
            root = JsonFile.parse(json, file);
        } catch (FormatException e) {
            throw new FormatException(file, "safetensors header: " + e.getMessage().substring(file.toString().length() + 2),
                    e);
        }
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> kv : root.entries()) {
            String name = kv.getKey();
            if (name.equals("__metadata__")) {
                for (Map.Entry<String, JsonElement> m : root.object(name).entries()) {
                    meta.put(m.getKey(), m.getValue().isJsonPrimitive() ? m.getValue().getAsString()
                            : m.getValue().toString());
                }
                continue;
            }
            JsonFields t = JsonFields.of(file, kv.getValue(), name);
            DType dtype;
            try {
                dtype = DType.parse(t.string("dtype", null), file.toString(), name);
            } catch (IllegalArgumentException e) { // unsupported dtype; the message names file and tensor
                throw new FormatException(file, e.getMessage().substring(file.toString().length() + 2), e);
            }
            JsonArray shapeJson = t.array("shape");
            if (shapeJson.size() > 8) {
                throw new FormatException(file, "tensor '" + name + "' has " + shapeJson.size() + " dimensions (at most 8)");
            }
            int[] dims = new int[shapeJson.size()];
            long numel = 1;
            for (int i = 0; i < dims.length; i++) {
                dims[i] = (int) t.integerValue(shapeJson.get(i), name + ".shape[" + i + "]", 0,
                        Integer.MAX_VALUE);
                numel *= dims[i];
                if (numel > Integer.MAX_VALUE - 8) {
                    throw new FormatException(file, "tensor '" + name + "' has too many elements for one array");
                }
            }
            JsonArray off = t.array("data_offsets");
            if (off.size() != 2) {
                throw new FormatException(file, "tensor '" + name + "' has " + off.size()
                        + " data offsets, expected [begin, end]");
            }
            long begin = t.integerValue(off.get(0), name + ".data_offsets[0]", 0, Long.MAX_VALUE);
            long end = t.integerValue(off.get(1), name + ".data_offsets[1]", 0, Long.MAX_VALUE);
            if (end < begin || end > dataSize) {
                throw new FormatException(file, "tensor '" + name + "' has data offsets [" + begin + ", " + end
                        + "] outside the " + dataSize + " data bytes");
            }
            if (end - begin != numel * dtype.bytes()) {
                throw new FormatException(file, "tensor '" + name + "' has " + (end - begin) + " bytes, but shape "
                        + java.util.Arrays.toString(dims) + " of " + dtype + " needs " + numel * dtype.bytes());
            }
            out.put(name, new Entry(name, dtype, Shape.of(dims), begin, end));
        }
        List<Entry> sorted = new ArrayList<>(out.values());
        sorted.sort((a, b) -> Long.compare(a.begin(), b.begin()));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1);
            Entry cur = sorted.get(i);
            if (cur.begin() < prev.end()) {
                throw new FormatException(file, "tensors '" + prev.name() + "' [" + prev.begin() + ", " + prev.end()
                        + ") and '" + cur.name() + "' [" + cur.begin() + ", " + cur.end() + ") overlap");
            }
        }
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
        long p = pos;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, p);
            if (r < 0) {
                throw new FormatException(file, "truncated safetensors file (unexpected end at byte " + p + ")");
            }
            p += r;
        }
    }

    public Path file() {
        return file;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    /** The header entry of {@code name}, or an error naming the file and tensor. */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException(file + ": no tensor named '" + name + "'");
        }
        return e;
    }

    /** Where tensor {@code name}'s bytes are in the file: the header's offsets after the header itself. */
    public ReadAhead.Range range(String name) {
        Entry e = entry(name);
        return new ReadAhead.Range(file, dataStart + e.begin(), dataStart + e.end());
    }

    /** The {@code __metadata__} strings (empty if none). */
    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** Reads tensor {@code name} as doubles (exact for every dtype; integers beyond 2^53 excepted). */
    public Tensor read(String name) throws IOException {
        Entry e = entry(name);
        double[] out = new double[e.shape().numel()];
        int per = e.dtype().bytes();
        int chunkElems = Math.max(1, (1 << 22) / per);
        ByteBuffer buf = ByteBuffer.allocate(Math.min(out.length, chunkElems) * per).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < out.length; at += chunkElems) {
            int count = Math.min(chunkElems, out.length - at);
            buf.clear().limit(count * per);
            readFully(channel, buf, dataStart + e.begin() + (long) at * per, file);
            buf.flip();
            for (int i = 0; i < count; i++) {
                out[at + i] = switch (e.dtype()) {
                    case F64 -> buf.getDouble();
                    case F32 -> buf.getFloat();
                    case F16 -> HalfFloat.fromFp16Bits(buf.getShort());
                    case BF16 -> HalfFloat.fromBf16Bits(buf.getShort());
                    case I64 -> buf.getLong();
                    case I32 -> buf.getInt();
                };
            }
        }
        return Tensor.wrap(out, e.shape());
    }

    /**
     * {@link #read}, refusing a tensor with a NaN or infinite element ({@link FormatException}
     * naming the file, the tensor and the element): what every loader of weights and prefixes uses,
     * so a bad number stops the command where it enters instead of turning a perplexity into NaN.
     */
    public Tensor readFinite(String name) throws IOException {
        Tensor t = read(name);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            if (!Double.isFinite(d[i])) {
                throw new FormatException(file, "tensor '" + name + "' element " + i + " (of shape " + t.shape()
                        + ") is " + d[i]);
            }
        }
        return t;
    }

    /**
     * Reads tensor {@code name} in its own dtype where that is compact: F32 as a {@code float[]}, F16
     * and BF16 as their 16-bit patterns, in a read-only {@link Tensor#stored} tensor (4 or 2 bytes an
     * element instead of 8); F64 and the integer dtypes as {@link #read}. Refuses NaN and infinite
     * elements as {@link #readFinite} does, with the same message, by looking at the bit patterns.
     * The values are exactly those {@link #read} gives, so every result computed from them is too.
     */
    public Tensor readStored(String name) throws IOException {
        Entry e = entry(name);
        if (e.dtype() != DType.F32 && e.dtype() != DType.F16 && e.dtype() != DType.BF16) {
            return readFinite(name);
        }
        int numel = e.shape().numel();
        int per = e.dtype().bytes();
        float[] floats = e.dtype() == DType.F32 ? new float[numel] : null;
        short[] halves = e.dtype() == DType.F32 ? null : new short[numel];
        int chunkElems = (1 << 22) / per;
        ByteBuffer buf = ByteBuffer.allocate(Math.max(1, Math.min(numel, chunkElems)) * per).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < numel; at += chunkElems) {
            int count = Math.min(chunkElems, numel - at);
            buf.clear().limit(count * per);
            readFully(channel, buf, dataStart + e.begin() + (long) at * per, file);
            buf.flip();
            if (floats != null) {
                buf.asFloatBuffer().get(floats, at, count);
            } else {
                buf.asShortBuffer().get(halves, at, count);
            }
        }
        for (int i = 0; i < numel; i++) {
            requireFiniteBits(e, i, floats != null ? Float.floatToRawIntBits(floats[i]) : halves[i]);
        }
        // a matrix is held row-interleaved (RowBlocks, rearranged in place): the one-row product of decoding
        // reads it with vectors across output rows; its elements and every result stay the same
        ElementDtype held = switch (e.dtype()) {
            case F32 -> ElementDtype.F32;
            case F16 -> ElementDtype.F16;
            default -> ElementDtype.BF16;
        };
        RowBlocks blocks = e.shape().rank() == 2 && numel > 0
                ? RowBlocks.preferred(e.shape().dim(0), e.shape().dim(1), held) : null;
        WeightStorage stored = switch (e.dtype()) {
            case F32 -> blocks != null ? F32Storage.interleaved(floats, blocks) : new F32Storage(floats);
            case F16 -> blocks != null ? F16Storage.interleaved(halves, blocks) : new F16Storage(halves);
            default -> blocks != null ? Bf16Storage.interleaved(halves, blocks) : new Bf16Storage(halves);
        };
        return Tensor.stored(stored, e.shape());
    }

    /**
     * Refuses tensor {@code name} if an element is NaN or infinite, as {@link #readFinite} and {@link #readStored}
     * do and with their message, without keeping the tensor: its bytes are read 4 MiB at a time and each element's
     * exponent field tested (all ones: NaN or infinity). Integer dtypes pass. What a layer-by-layer reader runs
     * before its first layer (LazyCheckpoint#checkFinite), so that a bad number in the last layer stops the command
     * before hours of work on the earlier ones, not when that layer is reached.
     */
    public void checkFinite(String name) throws IOException {
        Entry e = entry(name);
        if (e.dtype().isInteger()) {
            return;
        }
        int per = e.dtype().bytes();
        long numel = e.shape().numel();
        int chunkElems = (1 << 22) / per;
        ByteBuffer buf = ByteBuffer.allocate((int) Math.max(1, Math.min(numel, chunkElems)) * per)
                .order(ByteOrder.LITTLE_ENDIAN);
        for (long at = 0; at < numel; at += chunkElems) {
            int count = (int) Math.min(chunkElems, numel - at);
            buf.clear().limit(count * per);
            readFully(channel, buf, dataStart + e.begin() + at * per, file);
            buf.flip();
            for (int i = 0; i < count; i++) {
                requireFiniteBits(e, at + i, switch (e.dtype()) {
                    case F64 -> buf.getLong(i * 8);
                    case F32 -> buf.getInt(i * 4);
                    default -> buf.getShort(i * 2);
                });
            }
        }
    }

    /**
     * Refuses element {@code index} of float tensor {@code e} whose bit pattern is {@code bits} if its exponent field
     * is all ones (NaN or infinity), naming the file, the tensor and the element: the one check of
     * {@link #readStored} and {@link #checkFinite}.
     */
    private void requireFiniteBits(Entry e, long index, long bits) throws FormatException {
        boolean finite = switch (e.dtype()) {
            case F64 -> (bits & 0x7ff0000000000000L) != 0x7ff0000000000000L;
            case F32 -> (bits & 0x7f800000) != 0x7f800000;
            case F16 -> (bits & 0x7c00) != 0x7c00;
            default -> (bits & 0x7f80) != 0x7f80; // BF16: the float32 exponent field
        };
        if (!finite) {
            double v = switch (e.dtype()) {
                case F64 -> Double.longBitsToDouble(bits);
                case F32 -> Float.intBitsToFloat((int) bits);
                case F16 -> HalfFloat.fromFp16Bits((short) bits);
                default -> HalfFloat.fromBf16Bits((short) bits);
            };
            throw new FormatException(file, "tensor '" + e.name() + "' element " + index + " (of shape " + e.shape()
                    + ") is " + v);
        }
    }

    /** Reads an integer tensor ({@code I64} or {@code I32}) as longs. */
    public long[] readLongs(String name) throws IOException {
        Entry e = entry(name);
        if (!e.dtype().isInteger()) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' is " + e.dtype()
                    + ", expected an integer dtype (I64 or I32)");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) (e.end() - e.begin())).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, buf, dataStart + e.begin(), file);
        buf.flip();
        long[] out = new long[e.shape().numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = e.dtype() == DType.I64 ? buf.getLong() : buf.getInt();
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

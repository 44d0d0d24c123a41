package intactkv.model.gguf;

import intactkv.model.io.FormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (llama.cpp's model format, versions 2 and 3), opened: its header, metadata and
 * tensor infos are read and checked at once; tensor data is read tensor by tensor when asked
 * ({@link #readFloats}), in chunks of whole rows, never the whole file at once.
 *
 * <p>Layout (little-endian; ggml/src/gguf.cpp {@code gguf_init_from_file_impl}, gguf-py
 * {@code gguf_reader.py}):
 * <pre>
 *   "GGUF"  uint32 version (2 or 3)  int64 n_tensors  int64 n_kv
 *   n_kv x   { string key, int32 value type, value }          string = uint64 length + UTF-8 bytes
 *                                                             array  = int32 element type + uint64 count + elements
 *   n_tensors x { string name, uint32 n_dims (1..4), int64 ne[n_dims], int32 ggml type, uint64 offset }
 *   padding to general.alignment (uint32, a power of two; 32 when absent)
 *   data: each tensor at data start + offset (a multiple of the alignment), ne[0] (the row length)
 *         varying fastest, in blocks of its type
 * </pre>
 * Checked where read, each refusal a {@link FormatException} naming the file, the key or tensor
 * and the byte position: the magic, the version (1 used 32-bit counts and is refused), counts
 * and lengths against the bytes left in the file (before anything is allocated from them), a key
 * or tensor name given twice, nested arrays, the ggml type (unknown ids and types this project
 * does not dequantize, by name), dimensions (negative, or an element count past 2^31 - 1 or
 * overflowing), the row length against the type's block size, the alignment, and each tensor's
 * offset (aligned, and its bytes inside the file).
 */
public final class GgufFile implements AutoCloseable {
    /** "GGUF" as the file's first four bytes. */
    static final byte[] MAGIC = {'G', 'G', 'U', 'F'};
    /** gguf.cpp's {@code GGUF_DEFAULT_ALIGNMENT}. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** ggml's {@code GGML_MAX_DIMS}. */
    public static final int MAX_DIMS = 4;

    /**
     * One tensor: its name, dimensions in ggml order ({@code ne[0]} is the row length, the
     * fastest-varying index; a PyTorch tensor of shape (a, b) is ne = [b, a]), type, offset into
     * the data section, element count and bytes.
     */
    public record TensorInfo(String name, long[] ne, GgmlType type, long offset, long elements, long bytes) {
        /** The shape in row-major (PyTorch) order: ne reversed. */
        public int[] shape() {
            int[] s = new int[ne.length];
            for (int i = 0; i < ne.length; i++) {
                s[i] = (int) ne[ne.length - 1 - i];
            }
            return s;
        }
    }

    private final Path file;
    private final FileChannel ch;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long dataStart;
    private final int alignment;

    private GgufFile(Path file, FileChannel ch, int version, Map<String, Object> metadata,
                     Map<String, TensorInfo> tensors, long dataStart, int alignment) {
        this.file = file;
        this.ch = ch;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataStart = dataStart;
        this.alignment = alignment;
    }

    /**
     * Whether {@code p} is to be read as a GGUF file: a regular file named {@code *.gguf} (whose
     * magic {@link #open} then checks, so that a damaged one is refused as GGUF) or one that
     * starts with the GGUF magic.
     */
    public static boolean isGguf(Path p) {
        if (!Files.isRegularFile(p)) {
            return false;
        }
        if (p.getFileName() != null && p.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf")) {
            return true;
        }
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4);
            while (b.hasRemaining() && c.read(b) > 0) {
                // read the four bytes
            }
            return !b.hasRemaining() && java.util.Arrays.equals(b.array(), MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    /** Opens {@code file} and reads its header, metadata and tensor infos (see the class comment for the checks). */
    public static GgufFile open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return read(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static GgufFile read(Path file, FileChannel ch) throws IOException {
        GgufInput in = new GgufInput(file, ch);
        if (in.size() < 4) {
            throw new FormatException(file, "not a GGUF file: " + in.size() + " bytes, shorter than the 4-byte magic");
        }
        byte[] magic = new byte[4];
        for (int i = 0; i < 4; i++) {
            magic[i] = (byte) in.u8("magic");
        }
        if (!java.util.Arrays.equals(magic, MAGIC)) {
            throw new FormatException(file, "not a GGUF file: the magic at byte 0 is " + hex(magic)
                    + ", not 47 47 55 46 (\"GGUF\")");
        }
        int version = in.i32("version");
        if (version != 2 && version != 3) {
            throw new FormatException(file, "GGUF version " + Integer.toUnsignedString(version) + " at byte 4 is not"
                    + " supported (versions 2 and 3; convert a version-1 file with a current llama.cpp)");
        }
        long nTensors = in.i64("tensor count");
        long nKv = in.i64("metadata count");
        // a tensor info takes at least 8 (name) + 4 + 8 + 4 + 8 bytes, a key-value pair at least 8 + 4 + 1
        if (nTensors < 0 || nTensors > in.remaining() / 32) {
            throw new FormatException(file, "tensor count " + Long.toUnsignedString(nTensors) + " at byte 8 is more"
                    + " than the " + in.remaining() + " bytes left could hold");
        }
        if (nKv < 0 || nKv > in.remaining() / 13) {
            throw new FormatException(file, "metadata count " + Long.toUnsignedString(nKv) + " at byte 16 is more than"
                    + " the " + in.remaining() + " bytes left could hold");
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = in.position();
            String key = in.string("metadata key " + i);
            int typeId = in.i32("type of metadata key '" + key + "'");
            Object value = value(in, file, key, typeId);
            if (meta.put(key, value) != null) {
                throw new FormatException(file, "metadata key '" + key + "' at byte " + at + " is given twice");
            }
        }
        int alignment = DEFAULT_ALIGNMENT;
        if (meta.containsKey("general.alignment")) {
            Object a = meta.get("general.alignment");
            long v = a instanceof Long l ? l : -1;
            if (!(a instanceof Long) || v <= 0 || v > (1 << 30) || Long.bitCount(v) != 1) {
                throw new FormatException(file, "metadata key 'general.alignment' = " + a + " is not a power of two"
                        + " (an unsigned integer, e.g. 32)");
            }
            alignment = (int) v;
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            long at = in.position();
            String name = in.string("tensor name " + i);
            TensorInfo t = tensorInfo(in, file, name);
            if (tensors.put(name, t) != null) {
                throw new FormatException(file, "tensor '" + name + "' at byte " + at + " is given twice");
            }
        }
        long dataStart = (in.position() + alignment - 1) / alignment * alignment;
        long dataSize = in.size() - dataStart;
        for (TensorInfo t : tensors.values()) {
            if (t.offset() % alignment != 0) {
                throw new FormatException(file, "tensor '" + t.name() + "' has offset " + t.offset() + ", which is not a"
                        + " multiple of the alignment " + alignment);
            }
            if (t.offset() > dataSize || t.bytes() > dataSize - t.offset()) {
                throw new FormatException(file, "tensor '" + t.name() + "' has offset " + t.offset() + " and "
                        + t.bytes() + " bytes, past the end of the data section (" + Math.max(0, dataSize) + " bytes from"
                        + " byte " + dataStart + "; truncated file?)");
            }
        }
        return new GgufFile(file, ch, version, Collections.unmodifiableMap(meta), Collections.unmodifiableMap(tensors),
                dataStart, alignment);
    }

    private static Object value(GgufInput in, Path file, String key, int typeId) throws IOException {
        GgufValue type = GgufValue.of(typeId);
        String what = "metadata key '" + key + "'";
        if (type == null) {
            throw new FormatException(file, what + " has value type " + typeId + " at byte " + (in.position() - 4)
                    + ", which GGUF does not define (0..12)");
        }
        if (type != GgufValue.ARRAY) {
            return scalar(in, type, what);
        }
        int elemId = in.i32(what + " array type");
        GgufValue elem = GgufValue.of(elemId);
        if (elem == null) {
            throw new FormatException(file, what + " is an array of value type " + elemId + ", which GGUF does not"
                    + " define (0..12)");
        }
        if (elem == GgufValue.ARRAY) {
            throw new FormatException(file, what + " is an array of arrays, which llama.cpp's models do not use and"
                    + " this reader does not support");
        }
        long at = in.position();
        long n = in.i64(what + " array count");
        if (n < 0 || n > in.remaining() / elem.minBytes || n > Integer.MAX_VALUE - 8) {
            throw new FormatException(file, what + " has an array count " + Long.toUnsignedString(n) + " at byte " + at
                    + " past the end of the file (" + in.remaining() + " bytes left)");
        }
        int len = (int) n;
        String el = what + " element";
        Object values;
        switch (elem) {
            case STRING -> {
                String[] s = new String[len];
                for (int i = 0; i < len; i++) {
                    s[i] = in.string(what + "[" + i + "]");
                }
                values = s;
            }
            case BOOL -> {
                boolean[] b = new boolean[len];
                for (int i = 0; i < len; i++) {
                    b[i] = (Boolean) scalar(in, elem, el);
                }
                values = b;
            }
            case FLOAT32, FLOAT64 -> {
                double[] d = new double[len];
                for (int i = 0; i < len; i++) {
                    d[i] = ((Number) scalar(in, elem, el)).doubleValue();
                }
                values = d;
            }
            default -> {
                long[] v = new long[len];
                for (int i = 0; i < len; i++) {
                    v[i] = (Long) scalar(in, elem, el);
                }
                values = v;
            }
        }
        return new GgufArray(elem.name(), values);
    }

    private static Object scalar(GgufInput in, GgufValue type, String what) throws IOException {
        return switch (type) {
            case UINT8 -> (long) in.u8(what);
            case INT8 -> (long) (byte) in.u8(what);
            case UINT16 -> (long) (in.i16(what) & 0xFFFF);
            case INT16 -> (long) in.i16(what);
            case UINT32 -> in.i32(what) & 0xFFFFFFFFL;
            case INT32 -> (long) in.i32(what);
            case UINT64, INT64 -> in.i64(what);
            case FLOAT32 -> in.f32(what); // kept as Float (arrays widen it to double, exactly)
            case FLOAT64 -> in.f64(what);
            case BOOL -> {
                int b = in.u8(what);
                if (b > 1) {
                    throw new FormatException(in.file(), what + " is a bool of value " + b + " at byte "
                            + (in.position() - 1) + " (0 or 1)");
                }
                yield b == 1;
            }
            case STRING -> in.string(what);
            case ARRAY -> throw new IllegalStateException("arrays are read by value()");
        };
    }

    private static TensorInfo tensorInfo(GgufInput in, Path file, String name) throws IOException {
        String what = "tensor '" + name + "'";
        long at = in.position();
        int nDims = in.i32(what + " dimension count");
        if (nDims < 1 || nDims > MAX_DIMS) {
            throw new FormatException(file, what + " has " + Integer.toUnsignedString(nDims) + " dimensions at byte " + at
                    + " (1 to " + MAX_DIMS + ")");
        }
        long[] ne = new long[nDims];
        long elements = 1;
        for (int i = 0; i < nDims; i++) {
            ne[i] = in.i64(what + " ne[" + i + "]");
            if (ne[i] < 0) {
                throw new FormatException(file, what + " has dimension ne[" + i + "] = " + Long.toUnsignedString(ne[i])
                        + " (negative as int64)");
            }
            if (ne[i] != 0 && elements > Integer.MAX_VALUE / ne[i]) {
                throw new FormatException(file, what + " has dimension ne[" + i + "] = " + ne[i] + ", and its element"
                        + " count overflows 2^31 - 1 (too large to hold)");
            }
            elements *= ne[i];
        }
        int typeId = in.i32(what + " type");
        GgmlType type = GgmlType.ofId(Integer.toUnsignedLong(typeId));
        if (type == null) {
            throw new FormatException(file, what + " has ggml type " + Integer.toUnsignedString(typeId)
                    + ", which is not a ggml type this reader knows (supported: " + GgmlType.supported() + ")");
        }
        if (!type.isSupported()) {
            throw new FormatException(file, what + " has ggml type " + type + " (" + type.id() + "), which is not"
                    + " supported (supported: " + GgmlType.supported() + "); requantize it with llama-quantize");
        }
        if (ne[0] % type.blockSize() != 0) {
            throw new FormatException(file, what + " has rows of ne[0] = " + ne[0] + " elements, not a multiple of "
                    + type + "'s block of " + type.blockSize());
        }
        long offset = in.i64(what + " offset");
        if (offset < 0) {
            throw new FormatException(file, what + " has offset " + Long.toUnsignedString(offset) + ", past any file");
        }
        return new TensorInfo(name, ne, type, offset, elements, Dequantize.bytes(type, elements));
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(s.length() > 0 ? " " : "").append(String.format("%02x", x & 0xFF));
        }
        return s.toString();
    }

    public Path file() {
        return file;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    /** The file position where the data section (the first tensor's bytes) starts. */
    public long dataStart() {
        return dataStart;
    }

    /** The metadata, in file order: Long, Float (FLOAT32), Double (FLOAT64), Boolean, String or {@link GgufArray} values. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** The tensor infos, in file order. */
    public List<TensorInfo> tensors() {
        return new ArrayList<>(tensors.values());
    }

    /** The tensor named {@code name}, or null. */
    public TensorInfo tensor(String name) {
        return tensors.get(name);
    }

    /**
     * Tensor {@code t}'s elements as float32, dequantized ({@link Dequantize}), in ggml order
     * (row-major in {@link TensorInfo#shape()}); its bytes are read in chunks of whole rows of at
     * most {@value #CHUNK} bytes (one row at least), so no more than that is held besides the result.
     */
    public float[] readFloats(TensorInfo t) throws IOException {
        float[] y = new float[(int) t.elements()];
        readChunks(t, (b, from, n) -> Dequantize.into(t.type(), b, y, from, n));
        return y;
    }

    /**
     * Tensor {@code t}'s bytes as they are in the file (its blocks, not dequantized), read in chunks as
     * {@link #readFloats}.
     */
    public byte[] readBytes(TensorInfo t) throws IOException {
        byte[] out = new byte[Math.toIntExact(t.bytes())];
        readChunks(t, (b, from, n) -> b.get(out, (int) Dequantize.bytes(t.type(), from),
                (int) Dequantize.bytes(t.type(), n)));
        return out;
    }

    /** Elements {@code [from, from + n)} of a tensor in {@code bytes} (little-endian, at its position). */
    @FunctionalInterface
    private interface Chunk {
        void take(ByteBuffer bytes, int from, int n);
    }

    /** Tensor {@code t}'s bytes in chunks of whole rows of at most {@link #CHUNK} bytes (one row at least). */
    private void readChunks(TensorInfo t, Chunk chunk) throws IOException {
        long rowBytes = Dequantize.bytes(t.type(), t.ne()[0]);
        long rows = t.ne()[0] == 0 ? 0 : t.elements() / t.ne()[0];
        long rowsPerChunk = Math.max(1, CHUNK / Math.max(1, rowBytes));
        for (long r = 0; r < rows; r += rowsPerChunk) {
            long n = Math.min(rowsPerChunk, rows - r);
            ByteBuffer b = ByteBuffer.allocate((int) (n * rowBytes)).order(ByteOrder.LITTLE_ENDIAN);
            long pos = dataStart + t.offset() + r * rowBytes;
            while (b.hasRemaining()) {
                if (ch.read(b, pos + b.position()) < 0) {
                    throw new FormatException(file, "tensor '" + t.name() + "': the file ended at byte " + (pos
                            + b.position()) + " while reading it (truncated while open?)");
                }
            }
            b.flip();
            chunk.take(b, (int) (r * t.ne()[0]), (int) (n * t.ne()[0]));
        }
    }

    /** Largest read of tensor bytes at once (16 MB). */
    static final int CHUNK = 1 << 24;

    @Override
    public void close() throws IOException {
        ch.close();
    }
}

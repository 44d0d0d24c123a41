package intactkv.cli;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The bytes a checkpoint's tensors take once loaded for inference, from the safetensors header(s)
 * alone (names, dtypes, shapes; no tensor data is read), as {@code LlamaWeights.load} holds them:
 * a matrix in its file's dtype (BF16 and F16 2 bytes an element, F32 4, F64 8:
 * {@code SafetensorsReader.readStored}), a vector (the RMSNorm weights) in double, 8 bytes; and in a
 * packed quantized checkpoint ({@code PackedCheckpoint}) a weight {@code P} as {@code QuantCodes}:
 * the codes at their bit width, as in the file ({@code P.qcodes}, W 32-bit words, held as ceil(W / 2)
 * 64-bit words: 8 ceil(W / 2) bytes), its scales and zeros in double (8 bytes each, as in the file) and
 * the group of each column as an int (4 bytes).
 *
 * @param bytes  the total in memory
 * @param dtype  the dtype of the largest matrix (what the messages name: "BF16")
 * @param tensors the number of tensors (weights) counted
 * @param linears the bytes among {@code bytes} of the decoder layers' seven linear weights held as matrices (a
 *                full-precision checkpoint's; a packed checkpoint's codes are not counted here)
 * @param form   what the messages name the largest matrix's form by: its dtype ({@code "BF16"}), or for a GGUF file
 *               its ggml type ({@code "Q4_0"}), whose blocks are held as they are
 */
record WeightBytes(long bytes, DType dtype, int tensors, long linears, String form) {
    private static final String CODES = ".qcodes";
    /** A decoder layer's linear weight by its Hugging Face name. */
    private static final java.util.regex.Pattern LINEAR =
            java.util.regex.Pattern.compile("^model\\.layers\\.\\d+\\.(self_attn|mlp)\\.[a-z]+_proj\\.weight$");

    /**
     * Reads the header(s) of the checkpoint in {@code dir} ({@code model.safetensors} or the shards of
     * {@code model.safetensors.index.json}); errors are the reader's, naming the file.
     */
    static WeightBytes of(Path dir) throws IOException {
        if (intactkv.model.gguf.GgufFile.isGguf(dir)) {
            return ofGguf(dir);
        }
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            Map<String, SafetensorsReader.Entry> entries = new TreeMap<>();
            for (String n : r.names()) {
                entries.put(n, r.entry(n));
            }
            return of(entries);
        }
    }

    /**
     * A llama.cpp GGUF file ({@code --model FILE.gguf}), from its tensor infos alone: {@code GgufWeights}
     * holds an F16, BF16 or F32 matrix in its dtype (2 or 4 bytes an element), a matrix of a block type as its
     * file's bytes ({@code GgmlBlockStorage}), a vector in double (8 bytes).
     */
    private static WeightBytes ofGguf(Path file) throws IOException {
        long total = 0;
        int count = 0;
        long largest = -1;
        long linears = 0;
        DType dtype = DType.F32;
        String form = dtype.name();
        try (intactkv.model.gguf.GgufFile g = intactkv.model.gguf.GgufFile.open(file)) {
            for (intactkv.model.gguf.GgufFile.TensorInfo t : g.tensors()) {
                boolean matrix = t.ne().length >= 2;
                DType held = switch (t.type()) {
                    case F16 -> DType.F16;
                    case BF16 -> DType.BF16;
                    default -> DType.F32;
                };
                long b = matrix ? intactkv.model.gguf.GgufWeights.heldBytes(t.type(), t.elements())
                        : MemoryEstimate.times(8, t.elements());
                total = MemoryEstimate.plus(total, b);
                String hf = intactkv.model.gguf.GgufNames.toHf(t.name());
                if (matrix && hf != null && LINEAR.matcher(hf).matches()) {
                    linears = MemoryEstimate.plus(linears, b);
                }
                count++;
                if (matrix && t.elements() > largest) {
                    largest = t.elements();
                    dtype = held;
                    form = t.type().name();
                }
            }
        }
        return new WeightBytes(total, dtype, count, linears, form);
    }

    /**
     * What a checkpoint read one decoder layer at a time holds of it at once ({@code LazyCheckpoint}): its tensors
     * outside the decoder layers (embedding, final norm, head) and its largest decoder layer, as {@link #of(Path)}
     * counts them.
     */
    record Split(WeightBytes outside, WeightBytes layer) {
    }

    /** {@link Split} from the header(s) of the checkpoint in {@code dir} (a safetensors checkpoint, not GGUF). */
    static Split split(Path dir) throws IOException {
        Map<String, SafetensorsReader.Entry> outside = new TreeMap<>();
        Map<Integer, Map<String, SafetensorsReader.Entry>> layers = new TreeMap<>();
        java.util.regex.Pattern layer = java.util.regex.Pattern.compile("^model\\.layers\\.(\\d+)\\.");
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            for (String n : r.names()) {
                java.util.regex.Matcher m = layer.matcher(n);
                (m.find() ? layers.computeIfAbsent(Integer.valueOf(m.group(1)), k -> new TreeMap<>()) : outside)
                        .put(n, r.entry(n));
            }
        }
        WeightBytes largest = new WeightBytes(0, DType.F64, 0, 0, DType.F64.name());
        for (Map<String, SafetensorsReader.Entry> l : layers.values()) {
            WeightBytes b = of(l);
            largest = b.bytes() > largest.bytes() ? b : largest;
        }
        return new Split(of(outside), largest);
    }

    /** {@link #of(Path)} on the header entries by tensor name. */
    static WeightBytes of(Map<String, SafetensorsReader.Entry> entries) {
        long total = 0;
        long largest = -1;
        long linears = 0;
        DType dtype = DType.F64;
        int count = 0;
        for (SafetensorsReader.Entry e : entries.values()) {
            String name = e.name();
            long numel = e.shape().numel();
            if (name.endsWith(CODES)) {
                String base = name.substring(0, name.length() - CODES.length());
                SafetensorsReader.Entry scales = entries.get(base + ".scales");
                SafetensorsReader.Entry groupOf = entries.get(base + ".g_idx");
                if (scales != null && groupOf != null && scales.shape().rank() == 2) {
                    // the file's 32-bit words, two to a 64-bit word in memory
                    total = MemoryEstimate.plus(total, MemoryEstimate.times(8, (numel + 1) / 2));
                    count++;
                }
                continue;
            }
            if (name.endsWith(".g_idx") && entries.containsKey(name.substring(0, name.length() - 6) + CODES)) {
                total = MemoryEstimate.plus(total, 4 * numel); // int[] groupOf
                continue;
            }
            if (name.endsWith(".qparams")) {
                continue;
            }
            boolean matrix = e.shape().rank() >= 2;
            long per = matrix ? heldBytes(e.dtype()) : 8;
            total = MemoryEstimate.plus(total, MemoryEstimate.times(per, numel));
            if (matrix && LINEAR.matcher(name).matches()) {
                linears = MemoryEstimate.plus(linears, MemoryEstimate.times(per, numel));
            }
            if (!name.endsWith(".scales") && !name.endsWith(".zeros")) {
                count++;
                if (matrix && numel > largest) {
                    largest = numel;
                    dtype = e.dtype();
                }
            }
        }
        return new WeightBytes(total, dtype, count, linears, dtype.name());
    }

    /** Bytes an element of a matrix of {@code t} takes in memory: the file's width for F32/F16/BF16, else 8 (double). */
    static long heldBytes(DType t) {
        return switch (t) {
            case F32, F16, BF16 -> t.bytes();
            default -> 8;
        };
    }
}

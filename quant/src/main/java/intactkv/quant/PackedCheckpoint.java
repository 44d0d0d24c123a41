package intactkv.quant;

import intactkv.model.LlamaWeights;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;

/**
 * The packed form of a quantized checkpoint: every linear weight kept as {@link QuantCodes} is written
 * as five tensors beside each other, lossless, instead of one dequantized tensor. For weight
 * {@code P.weight} (rows, cols) with G groups a row:
 * <pre>
 *   P.qcodes   I32 (ceil(rows*cols*bits / 32))  code - qmin of every element, row-major, packed to
 *                                              bits bits each, least significant bits first, across words
 *   P.scales   F64 (rows, G)                   s of each (row, group)
 *   P.zeros    F64 (rows, G)                   z of each (row, group)
 *   P.g_idx    I32 (cols)                      the group of each column (AutoGPTQ's g_idx)
 *   P.qparams  I32 (2)                         [bits, qmin]
 * </pre>
 * and the value of element (r, c) is {@code (code - z) * s} ({@link FakeQuant#dequantize}) with the
 * (r, g_idx[c]) scale and zero: the fake-quantized double, bit for bit. A 7B model at 3 bits, group 128
 * takes 2.5 GB of codes and 0.8 GB of scales and zeros. {@code quant_config.json} says
 * {@code "weight_format": "packed"}; a weight without {@code P.qcodes} (OmniQuant's, whose
 * straight-through quantization is kept as doubles, or an older dequantized checkpoint) is read as
 * one tensor, as before.
 *
 * <p>{@code P.qcodes} is the stream {@link QuantCodes} holds in memory, in 32-bit words instead of 64-bit
 * ones: writing cuts each word into its low and high halves, reading joins them, and no code is unpacked.
 * The file layout did not change when the codes in memory went from one byte each to this stream: a
 * checkpoint written before is read the same, and one written now is byte for byte what was written before.
 *
 * <p>Reading checks everything before a code is used, and refuses with the tensor and the field:
 * bits against {@code quant_config.json}'s {@code wbits}, the shapes of scales, zeros and g_idx against
 * its {@code group_size} and the weight's columns, every column's group in range and every group of the
 * size the config says, the number of code words and zero padding after the last code (a code cannot
 * exceed its bits: each is read from exactly bits bits), scales finite and nonzero, zeros finite.
 */
public final class PackedCheckpoint {
    /** The value of {@code weight_format} in {@code quant_config.json} for this form. */
    public static final String FORMAT = "packed";

    private PackedCheckpoint() {
    }

    private static String base(String name) {
        return name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : name;
    }

    /**
     * Writes {@code t} packed if it is kept as {@link QuantCodes}; false (write it plainly) otherwise. The
     * five tensors are added with their shapes only and made from the codes when the writer reaches them
     * ({@link SafetensorsWriter#putLongs(String, DType, Shape, java.util.function.Supplier)}), so that writing a
     * model never holds more than one weight's packed words, scales or zeros.
     */
    public static boolean put(SafetensorsWriter w, String name, Tensor t) {
        if (!(t.storage() instanceof QuantCodes q)) {
            return false;
        }
        String p = base(name);
        int words = (int) (((long) q.size() * q.bits() + 31) / 32);
        Shape table = Shape.of(q.rows(), q.groups());
        w.putLongs(p + ".qcodes", DType.I32, Shape.of(words), () -> packWords(q, words));
        w.put(p + ".scales", DType.F64, table, () -> Tensor.wrap(q.scales(), table));
        w.put(p + ".zeros", DType.F64, table, () -> Tensor.wrap(q.zeros(), table));
        w.putLongs(p + ".g_idx", DType.I32, Shape.of(q.cols()), () -> {
            long[] groupOf = new long[q.cols()];
            for (int c = 0; c < groupOf.length; c++) {
                groupOf[c] = q.groupOf()[c];
            }
            return groupOf;
        });
        w.putLongs(p + ".qparams", DType.I32, new long[] {q.bits(), q.qmin()}, Shape.of(2));
        return true;
    }

    /**
     * The codes of {@code q} (offsets from qmin) packed to bits bits each, least significant bits first, across
     * {@code count} 32-bit words: {@code q}'s own 64-bit stream ({@link QuantCodes}) cut into halves, low half
     * first, so the file is the one a code-by-code packing writes (each 32-bit word as a signed int, as before).
     */
    private static long[] packWords(QuantCodes q, int count) {
        long[] stream = q.words();
        long[] words = new long[count];
        for (int i = 0; i < count; i++) {
            long w = stream[i >>> 1];
            words[i] = (i & 1) == 0 ? (int) w : (int) (w >>> 32);
        }
        return words;
    }

    /**
     * The form for {@link LlamaWeights#load(java.nio.file.Path, boolean, LlamaWeights.StoredForm)}:
     * reads a packed weight (checked against {@code config}, see the class comment), or null when
     * the checkpoint holds {@code name} plainly.
     */
    public static LlamaWeights.StoredForm reader(QuantConfig config, boolean packedFormat) {
        return new LlamaWeights.StoredForm() {
            @Override
            public Tensor read(CheckpointReader r, String name, Shape want) throws IOException {
                String p = base(name);
                if (!r.contains(p + ".qcodes")) {
                    return null;
                }
                if (!packedFormat) {
                    throw new FormatException(r.dir(), "tensor '" + p + ".qcodes' holds packed codes, but "
                            + QuantizedModel.CONFIG_FILE + " has no \"weight_format\": \"" + FORMAT + "\"; re-run"
                            + " quantize");
                }
                return PackedCheckpoint.read(r, p, want, config).tensor();
            }

            @Override
            public boolean holds(CheckpointReader r, String name) {
                return r.contains(base(name) + ".qcodes");
            }

            @Override
            public String weightOf(String tensor) {
                for (String part : PARTS) {
                    if (tensor.endsWith(part)) {
                        return tensor.substring(0, tensor.length() - part.length()) + ".weight";
                    }
                }
                return null;
            }
        };
    }

    /** The tensors a packed weight {@code P.weight} is written as: {@code P.qcodes}, {@code P.scales}, .... */
    private static final java.util.List<String> PARTS = java.util.List.of(".qcodes", ".scales", ".zeros", ".g_idx",
            ".qparams");

    private static QuantCodes read(CheckpointReader r, String p, Shape want, QuantConfig config) throws IOException {
        for (String part : new String[] {".scales", ".zeros", ".g_idx", ".qparams"}) {
            if (!r.contains(p + part)) {
                throw new FormatException(r.dir(), "packed weight '" + p + ".qcodes' has no tensor '" + p + part
                        + "' beside it; re-run quantize");
            }
        }
        int rows = want.dim(0);
        int cols = want.dim(1);
        long[] qp = ints(r, p + ".qparams", Shape.of(2), "the two parameters [bits, qmin]");
        int bits = config.weight().bits();
        if (qp[0] != bits) {
            throw new FormatException(r.dir(), "tensor '" + p + ".qparams' holds " + qp[0] + "-bit codes, but "
                    + QuantizedModel.CONFIG_FILE + " field 'wbits' says " + bits + "-bit weights");
        }
        int qmin = -(1 << (bits - 1));
        if (qp[1] != 0 && qp[1] != qmin) {
            throw new FormatException(r.dir(), "tensor '" + p + ".qparams' has qmin " + qp[1] + "; " + bits
                    + "-bit codes start at 0 or " + qmin);
        }
        int g = config.weight().groupSize() == WeightQuantizer.Spec.PER_CHANNEL ? cols : config.weight().groupSize();
        if (cols % g != 0) {
            throw new FormatException(r.dir(), QuantizedModel.CONFIG_FILE + " field 'group_size' " + g
                    + " does not divide the " + cols + " columns of weight '" + p + "'");
        }
        int groups = cols / g;
        double[] scales = doubles(r, p + ".scales", rows, groups, g, cols);
        double[] zeros = doubles(r, p + ".zeros", rows, groups, g, cols);
        for (int i = 0; i < scales.length; i++) {
            if (!Double.isFinite(scales[i]) || scales[i] == 0) {
                throw new FormatException(r.dir(), "tensor '" + p + ".scales' element " + i + " is " + scales[i]
                        + " (a scale must be finite and nonzero); re-run quantize");
            }
            if (!Double.isFinite(zeros[i])) {
                throw new FormatException(r.dir(), "tensor '" + p + ".zeros' element " + i + " is " + zeros[i]
                        + " (a zero must be finite); re-run quantize");
            }
        }
        long[] gIdx = ints(r, p + ".g_idx", Shape.of(cols), cols + " columns");
        int[] groupOf = new int[cols];
        int[] count = new int[groups];
        for (int c = 0; c < cols; c++) {
            if (gIdx[c] < 0 || gIdx[c] >= groups) {
                throw new FormatException(r.dir(), "tensor '" + p + ".g_idx' element " + c + " is group " + gIdx[c]
                        + ", outside [0, " + groups + ") for group_size " + g + " and " + cols + " columns");
            }
            groupOf[c] = (int) gIdx[c];
            count[groupOf[c]]++;
        }
        for (int k = 0; k < groups; k++) {
            if (count[k] != g) {
                throw new FormatException(r.dir(), "tensor '" + p + ".g_idx' puts " + count[k] + " columns in group " + k
                        + ", but " + QuantizedModel.CONFIG_FILE + " field 'group_size' is " + g);
            }
        }
        long n = (long) rows * cols;
        int words = (int) ((n * bits + 31) / 32);
        long[] packed = ints(r, p + ".qcodes", Shape.of(words), rows + " x " + cols + " codes of " + bits + " bits");
        long used = n * bits;
        if (used % 32 != 0 && (packed[words - 1] & 0xffffffffL) >>> (used % 32) != 0) {
            throw new FormatException(r.dir(), "tensor '" + p + ".qcodes' has bits set after its last " + bits
                    + "-bit code (written with another bit width?); re-run quantize");
        }
        long[] stream = new long[QuantCodes.words(n, bits)]; // two 32-bit words of the file make one, low half first
        for (int i = 0; i < words; i++) {
            stream[i >>> 1] |= (packed[i] & 0xffffffffL) << (32 * (i & 1));
        }
        return QuantCodes.ofWords(rows, cols, bits, (int) qp[1], groups, stream, scales, zeros, groupOf);
    }

    /** An integer tensor of shape {@code want}, or an error naming it and the shape it needs ({@code what}). */
    private static long[] ints(CheckpointReader r, String name, Shape want, String what) throws IOException {
        Shape got = r.entry(name).shape();
        if (!r.entry(name).dtype().isInteger() || !got.equals(want)) {
            throw new FormatException(r.dir(), "tensor '" + name + "' is " + r.entry(name).dtype() + " of shape " + got
                    + ", but " + what + " need I32 of shape " + want);
        }
        return r.readLongs(name);
    }

    private static double[] doubles(CheckpointReader r, String name, int rows, int groups, int g, int cols)
            throws IOException {
        Shape want = Shape.of(rows, groups);
        Shape got = r.entry(name).shape();
        if (r.entry(name).dtype().isInteger() || !got.equals(want)) {
            throw new FormatException(r.dir(), "tensor '" + name + "' has shape " + got + ", but "
                    + QuantizedModel.CONFIG_FILE + " field 'group_size' " + g + " for " + cols + " columns needs "
                    + want);
        }
        return r.read(name).data();
    }
}

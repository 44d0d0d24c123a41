package intactkv.quant;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import java.io.IOException;

/**
 * AutoAWQ's GEMM linear layer ({@code awq/modules/linear/gemm.py::WQLinear_GEMM}), read into {@link QuantCodes}
 * and written from them. For {@code in} inputs, {@code out} outputs (a multiple of 8), 4 bits and G = in / g groups:
 * <pre>
 *   P.qweight  I32 (in, out/8)    word (i, c) holds the codes q[i, 8c + AWQ_ORDER[j]] in its nibbles j = 0..7
 *   P.qzeros   I32 (G, out/8)     word (k, c) holds the zero points z[k, 8c + AWQ_ORDER[j]] the same way
 *   P.scales   F16 (G, out)       scale s[k, o]
 * </pre>
 * with {@code AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]} ({@code WQLinear_GEMM.from_linear}'s {@code order_map}), so that
 * output {@code 8c + m} is in nibble {@code AWQ_REVERSE_ORDER[m]}, {@code AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]}
 * ({@code awq/utils/packing_utils.py::reverse_awq_order}). The zeros are stored as they are (no minus one) and the
 * weight is {@code W[o, i] = (q[i, o] - z[i / g, o]) * s[i / g, o]} ({@code packing_utils.py::dequantize_gemm}: codes
 * and zeros masked to 4 bits, {@code (iweight - izeros) * scales}), computed here in double, exactly.
 */
final class AutoAwqFormat {
    /** The tensors a packed linear {@code P.weight} is stored as. */
    static final java.util.List<String> PARTS = java.util.List.of(".qweight", ".qzeros", ".scales");

    /** Output {@code 8c + m} of a word is in nibble {@code REVERSE_ORDER[m]}. */
    static final int[] REVERSE_ORDER = {0, 4, 1, 5, 2, 6, 3, 7};

    private AutoAwqFormat() {
    }

    /** Reads weight {@code p} (out, in) of the checkpoint {@code r}, checked against {@code cfg}. */
    static QuantCodes read(CheckpointReader r, String p, int out, int in, HubQuantConfig cfg) throws IOException {
        for (String part : new String[] {".qzeros", ".scales"}) {
            if (!r.contains(p + part)) {
                throw new FormatException(r.dir(), "packed weight '" + p + ".qweight' has no tensor '" + p + part
                        + "' beside it");
            }
        }
        if (r.contains(p + ".g_idx")) {
            throw new FormatException(r.dir(), "tensor '" + p + ".g_idx' is not used by AutoAWQ's GEMM layout (its groups"
                    + " are consecutive inputs); " + cfg.source().getFileName() + " says quant_method awq, but this looks"
                    + " like a GPTQ layer");
        }
        int g = cfg.groupSize();
        String config = cfg.source().getFileName() + " bits 4, group_size " + g;
        if (out % 8 != 0 || in % g != 0) {
            throw new FormatException(r.dir(), "weight '" + p + "' has " + in + " inputs and " + out + " outputs; AutoAWQ's"
                    + " GEMM layout needs outputs a multiple of 8 and inputs a multiple of the group (" + config + ")");
        }
        int groups = in / g;
        int cols = out / 8;
        long[] qweight = HubCheckpoint.ints(r, p + ".qweight", Shape.of(in, cols), config + ", " + in + " inputs x "
                + out + " outputs");
        long[] qzeros = HubCheckpoint.ints(r, p + ".qzeros", Shape.of(groups, cols), config + ", " + groups
                + " groups x " + out + " outputs");
        double[] s = HubCheckpoint.scales(r, p + ".scales", groups, out, config);
        double[] scales = new double[out * groups];
        double[] zeros = new double[out * groups];
        for (int k = 0; k < groups; k++) {
            for (int o = 0; o < out; o++) {
                zeros[o * groups + k] = nibble(qzeros[k * cols + o / 8], o);
                scales[o * groups + k] = s[k * out + o];
            }
        }
        long[] stream = new long[QuantCodes.words((long) out * in, 4)]; // straight into QuantCodes' bit stream
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                QuantCodes.write(stream, (long) o * in + i, 4, nibble(qweight[i * cols + o / 8], o)); // 4 bits
            }
        }
        return QuantCodes.ofWords(out, in, 4, 0, groups, stream, scales, zeros, QuantCodes.Builder.consecutive(in, g));
    }

    /** The 4-bit value of output {@code o} in its word. */
    private static int nibble(long word, int o) {
        return (int) ((word >>> (4 * REVERSE_ORDER[o % 8])) & 0xf);
    }

    /**
     * Adds {@code q} as weight {@code p} in AutoAWQ's GEMM layout with the scales rounded to float16 ({@code scales},
     * (rows, groups)), the codes and zeros kept. Refuses (IllegalArgumentException naming the weight) what the layout
     * cannot hold: other than 4 bits, outputs not a multiple of 8, groups that are not consecutive inputs.
     */
    static void put(SafetensorsWriter w, String p, QuantCodes q, double[] scales) {
        int out = q.rows();
        int in = q.cols();
        int groups = q.groups();
        if (q.bits() != 4 || out % 8 != 0 || !AutoGptqFormat.consecutive(q)) {
            throw new IllegalArgumentException("weight '" + p + "' (" + q.describe() + ", " + out + " outputs) cannot be"
                    + " written in AutoAWQ's GEMM layout, which holds 4-bit codes in groups of consecutive inputs with"
                    + " outputs a multiple of 8 (use the default --format packed)");
        }
        int cols = out / 8;
        long[] qzeros = new long[groups * cols];
        for (int k = 0; k < groups; k++) {
            for (int o = 0; o < out; o++) {
                int z = HubCheckpoint.integerZero(q, o, k, p);
                qzeros[k * cols + o / 8] = (int) qzeros[k * cols + o / 8] | z << (4 * REVERSE_ORDER[o % 8]);
            }
        }
        w.putLongs(p + ".qweight", DType.I32, Shape.of(in, cols), () -> {
            long[] words = new long[in * cols];
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) {
                    int at = i * cols + o / 8;
                    words[at] = (int) words[at] | q.offset(o * in + i) << (4 * REVERSE_ORDER[o % 8]);
                }
            }
            return words;
        });
        w.putLongs(p + ".qzeros", DType.I32, qzeros, Shape.of(groups, cols));
        w.put(p + ".scales", DType.F16, HubCheckpoint.transposed(scales, out, groups));
    }
}

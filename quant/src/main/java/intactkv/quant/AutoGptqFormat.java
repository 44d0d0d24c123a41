package intactkv.quant;

import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import java.io.IOException;

/**
 * AutoGPTQ's packed linear layer, read into {@link QuantCodes} and written from them. For a linear of
 * {@code in} inputs and {@code out} outputs, b bits and G = ceil(in / g) groups ({@code g = in} for group_size -1):
 * <pre>
 *   P.qweight  I32 (in*b/32, out)   column o holds the codes q[i, o] of its inputs i = 0..in-1 as one bit stream,
 *                                   b bits each, least significant bits first, continuing across words (rows)
 *   P.qzeros   I32 (G, out*b/32)    row k holds the zero points of group k for o = 0..out-1, packed the same way
 *   P.scales   F16 (G, out)         scale s[k, o]
 *   P.g_idx    I32 (in)             the group of input i (act-order: not i / g)
 * </pre>
 * and the weight is {@code W[o, i] = s[g_idx[i], o] * (q[i, o] - z[g_idx[i], o])}
 * (Reference: AutoGPTQ {@code nn_modules/qlinear/qlinear_cuda.py::QuantLinear.forward}, its torch path:
 * {@code scales[g_idx] * (weight - zeros[g_idx])}). 2, 4 and 8 bits never cross a word; the 3-bit layout of
 * {@code qlinear_cuda_old.py::QuantLinear.pack} (ten codes a word, the 11th and 22nd split across words) is the
 * same bit stream, 32 codes in 3 words.
 *
 * <p>Zero points. Format v1 ({@code checkpoint_format "gptq"}) stores {@code z - 1} ({@code pack}: {@code zeros -= 1});
 * the torch path unpacks {@code z = ((stored & mask) + 1) & mask} at 2, 4 and 8 bits (the mask applied after
 * adding one, "casting here after the zeros = zeros + 1 is important") and {@code z = (stored & 7) + 1} at 3 bits
 * ({@code qlinear_cuda_old.py::QuantLinear.forward}); this class does the same, so a 3-bit v1 zero is in 1..8 and a
 * 2/4/8-bit one in 0..2^b-1. Format v2 ({@code gptq_v2}, GPTQModel) stores z itself. In double the product
 * (an integer of at most 9 bits times a float16, bfloat16 or float32 scale) is exact, where torch's float16
 * forward rounds it to float16: the values here are the exact ones.
 */
final class AutoGptqFormat {
    /** The tensors a packed linear {@code P.weight} is stored as. */
    static final java.util.List<String> PARTS = java.util.List.of(".qweight", ".qzeros", ".scales", ".g_idx");

    private AutoGptqFormat() {
    }

    /** Value {@code i} of a bit stream of {@code bits}-bit values in {@code words[base + k * stride]}, k = 0, 1, .... */
    static int get(long[] words, int base, int stride, long i, int bits) {
        long bit = i * bits;
        int k = (int) (bit >>> 5);
        int shift = (int) (bit & 31);
        long v = (words[base + k * stride] & 0xffffffffL) >>> shift;
        if (shift + bits > 32) {
            v |= (words[base + (k + 1) * stride] & 0xffffffffL) << (32 - shift);
        }
        return (int) (v & ((1L << bits) - 1));
    }

    /** Puts {@code v} (in {@code [0, 2^bits)}) as value {@code i} of the bit stream of {@link #get}. */
    static void set(int[] words, int base, int stride, long i, int bits, int v) {
        long bit = i * bits;
        int k = (int) (bit >>> 5);
        int shift = (int) (bit & 31);
        words[base + k * stride] |= v << shift;
        if (shift + bits > 32) {
            words[base + (k + 1) * stride] |= v >>> (32 - shift);
        }
    }

    /** The groups of a linear with {@code in} inputs: {@code ceil(in / g)}, one for group_size -1. */
    static int groups(int in, int groupSize) {
        int g = groupSize == -1 ? in : groupSize;
        return (in + g - 1) / g;
    }

    /** Reads weight {@code p} (out, in) of the checkpoint {@code r}, checked against {@code cfg}. */
    static QuantCodes read(CheckpointReader r, String p, int out, int in, HubQuantConfig cfg) throws IOException {
        for (String part : new String[] {".qzeros", ".scales"}) {
            if (!r.contains(p + part)) {
                throw new FormatException(r.dir(), "packed weight '" + p + ".qweight' has no tensor '" + p + part
                        + "' beside it");
            }
        }
        int bits = cfg.bits();
        String config = cfg.source().getFileName() + " bits " + bits + ", group_size " + cfg.groupSize();
        if ((long) in * bits % 32 != 0 || (long) out * bits % 32 != 0) {
            throw new FormatException(r.dir(), "weight '" + p + "' has " + in + " inputs and " + out + " outputs, which "
                    + bits + "-bit codes do not fill whole 32-bit words (" + config + "); it cannot be an AutoGPTQ layer");
        }
        int groups = groups(in, cfg.groupSize());
        int wordsPerColumn = in * bits / 32;
        int zeroWords = out * bits / 32;
        long[] qweight = HubCheckpoint.ints(r, p + ".qweight", Shape.of(wordsPerColumn, out), config + ", " + in
                + " inputs x " + out + " outputs");
        long[] qzeros = HubCheckpoint.ints(r, p + ".qzeros", Shape.of(groups, zeroWords), config + ", " + groups
                + " groups x " + out + " outputs");
        double[] s = HubCheckpoint.scales(r, p + ".scales", groups, out, config);
        int[] groupOf = new int[in];
        if (r.contains(p + ".g_idx")) {
            long[] gIdx = HubCheckpoint.ints(r, p + ".g_idx", Shape.of(in), in + " inputs");
            for (int i = 0; i < in; i++) {
                if (gIdx[i] < 0 || gIdx[i] >= groups) {
                    throw new FormatException(r.dir(), "tensor '" + p + ".g_idx' element " + i + " is group " + gIdx[i]
                            + ", outside [0, " + groups + ") for " + config + " and " + in + " inputs");
                }
                groupOf[i] = (int) gIdx[i];
            }
        } else {
            int g = cfg.groupSize() == -1 ? in : cfg.groupSize();
            for (int i = 0; i < in; i++) {
                groupOf[i] = i / g;
            }
        }
        int mask = (1 << bits) - 1;
        double[] scales = new double[out * groups];
        double[] zeros = new double[out * groups];
        for (int k = 0; k < groups; k++) {
            for (int o = 0; o < out; o++) {
                int stored = get(qzeros, k * zeroWords, 1, o, bits);
                int z = switch (cfg.format()) {
                    case GPTQ -> bits == 3 ? stored + 1 : (stored + 1) & mask;
                    default -> stored;
                };
                zeros[o * groups + k] = z;
                scales[o * groups + k] = s[k * out + o];
            }
        }
        long[] stream = new long[QuantCodes.words((long) out * in, bits)]; // straight into QuantCodes' bit stream
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                QuantCodes.write(stream, (long) o * in + i, bits, get(qweight, o, out, i, bits)); // masked: in range
            }
        }
        return QuantCodes.ofWords(out, in, bits, 0, groups, stream, scales, zeros, groupOf);
    }

    /**
     * Adds {@code q} as weight {@code p} in AutoGPTQ's layout ({@code format} GPTQ, v1, or GPTQ_V2) with the scales
     * rounded to float16 ({@code scales}, (rows, groups) as {@link HubCheckpoint#halfScales} made them), the codes
     * and zeros kept. Refuses (IllegalArgumentException naming the weight) what the layout cannot hold.
     */
    static void put(SafetensorsWriter w, String p, QuantCodes q, double[] scales, HubQuantConfig.Format format) {
        int out = q.rows();
        int in = q.cols();
        int bits = q.bits();
        int groups = q.groups();
        if ((long) in * bits % 32 != 0 || (long) out * bits % 32 != 0) {
            throw new IllegalArgumentException("weight '" + p + "' has " + in + " inputs and " + out + " outputs; AutoGPTQ"
                    + " packs " + bits + "-bit codes into whole 32-bit words, so both must be multiples of "
                    + 32 / gcd(bits, 32) + " (use the default --format packed)");
        }
        int mask = (1 << bits) - 1;
        int zeroWords = out * bits / 32;
        int[] zeroPacked = new int[groups * zeroWords];
        for (int k = 0; k < groups; k++) {
            for (int o = 0; o < out; o++) {
                int z = HubCheckpoint.integerZero(q, o, k, p);
                int stored = z;
                if (format == HubQuantConfig.Format.GPTQ) {
                    if (bits == 3 && z == 0) {
                        throw new IllegalArgumentException("weight '" + p + "' row " + o + " group " + k + " has zero"
                                + " point 0, which AutoGPTQ's 3-bit format v1 (zeros stored minus one) reads back as 8;"
                                + " use the default --format packed for this model");
                    }
                    stored = (z - 1) & mask;
                }
                set(zeroPacked, k * zeroWords, 1, o, bits, stored);
            }
        }
        int wordsPerColumn = in * bits / 32;
        Shape qShape = Shape.of(wordsPerColumn, out);
        w.putLongs(p + ".qweight", DType.I32, qShape, () -> {
            int[] words = new int[wordsPerColumn * out];
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    set(words, o, out, i, bits, q.offset(o * in + i));
                }
            }
            return widen(words);
        });
        w.putLongs(p + ".qzeros", DType.I32, widen(zeroPacked), Shape.of(groups, zeroWords));
        w.put(p + ".scales", DType.F16, HubCheckpoint.transposed(scales, out, groups));
        long[] gIdx = new long[in];
        for (int i = 0; i < in; i++) {
            gIdx[i] = q.groupOf()[i];
        }
        w.putLongs(p + ".g_idx", DType.I32, gIdx, Shape.of(in));
    }

    static long[] widen(int[] words) {
        long[] l = new long[words.length];
        for (int i = 0; i < words.length; i++) {
            l[i] = words[i];
        }
        return l;
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** Whether {@code q}'s groups are g consecutive inputs each (AutoGPTQ's desc_act false). */
    static boolean consecutive(QuantCodes q) {
        int g = q.cols() / q.groups();
        for (int c = 0; c < q.cols(); c++) {
            if (q.groupOf()[c] != c / g) {
                return false;
            }
        }
        return true;
    }
}

package intactkv.quant;

import intactkv.model.gguf.GgmlType;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The llama.cpp quantization types {@code --method gguf --type T} accepts: the file types
 * ({@code ftype}) of {@code llama-quantize}, each a default ggml type plus per-tensor rules
 * ({@link GgufTypeRules}), and three plain names.
 *
 * <ul>
 *   <li>Mixes, as {@code llama-quantize MODEL OUT T} makes them: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
 *       Q2_K, Q3_K_S, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K. Even the one-type names are
 *       mixes in llama.cpp: Q4_0 quantizes the output head as Q6_K, for example.</li>
 *   <li>Plain k-quant names Q3_K, Q4_K, Q5_K: every quantizable matrix (the embedding and the head
 *       included) in that one type, what {@code llama-quantize --pure} writes for Q3_K_M, Q4_K_M,
 *       Q5_K_M ({@code params->pure} skips {@code llama_tensor_get_type_impl}). The row-length
 *       fallback ({@link GgufTypeRules#fallback}) still applies, as it does with {@code --pure}.</li>
 * </ul>
 * Reference: llama.cpp src/llama-quant.cpp {@code llama_ftype_get_default_type} (the default type
 * of each ftype) and tools/quantize/quantize.cpp (the names).
 */
public enum GgufMix {
    Q8_0(GgmlType.Q8_0, false, 8),
    Q4_0(GgmlType.Q4_0, false, 4),
    Q4_1(GgmlType.Q4_1, false, 4),
    Q5_0(GgmlType.Q5_0, false, 5),
    Q5_1(GgmlType.Q5_1, false, 5),
    Q2_K(GgmlType.Q2_K, false, 2),
    Q3_K_S(GgmlType.Q3_K, false, 3),
    Q3_K_M(GgmlType.Q3_K, false, 3),
    Q4_K_S(GgmlType.Q4_K, false, 4),
    Q4_K_M(GgmlType.Q4_K, false, 4),
    Q5_K_S(GgmlType.Q5_K, false, 5),
    Q5_K_M(GgmlType.Q5_K, false, 5),
    Q6_K(GgmlType.Q6_K, false, 6),
    Q3_K(GgmlType.Q3_K, true, 3),
    Q4_K(GgmlType.Q4_K, true, 4),
    Q5_K(GgmlType.Q5_K, true, 5);

    private final GgmlType defaultType;
    private final boolean pure;
    private final int nominalBits;

    GgufMix(GgmlType defaultType, boolean pure, int nominalBits) {
        this.defaultType = defaultType;
        this.pure = pure;
        this.nominalBits = nominalBits;
    }

    /** The ftype's default ggml type ({@code llama_ftype_get_default_type}). */
    public GgmlType defaultType() {
        return defaultType;
    }

    /** Whether every quantizable tensor gets {@link #defaultType} ({@code llama-quantize --pure}). */
    public boolean pure() {
        return pure;
    }

    /** The bits the name advertises (Q4_K_M: 4), for labels; the tensors' real types differ. */
    public int nominalBits() {
        return nominalBits;
    }

    /** The llama-quantize ftype to pass to reproduce this mix ({@code Q4_K}: {@code --pure Q4_K_M}). */
    public String llamaQuantizeArgs() {
        return pure ? "--pure " + name() + "_M" : name();
    }

    /** The valid names, for messages. */
    public static String names() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }

    /** The mix named {@code s} (case-insensitive), refusing an unknown name with the valid list. */
    public static GgufMix parse(String s) {
        for (GgufMix m : values()) {
            if (m.name().equals(s.toUpperCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown GGUF type '" + s + "' (one of " + names() + ")");
    }
}

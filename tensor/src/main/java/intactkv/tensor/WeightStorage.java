package intactkv.tensor;

/**
 * The elements of a weight kept in a compact form (its checkpoint's own dtype, or quantization
 * codes with their scales and zeros) instead of a {@code double[]}, read as doubles only where a
 * kernel reads them: the GEMM's packing pass ({@link VectorGemm}), the one-row product of decoding
 * ({@link Gemv}) and the embedding lookup ({@link Indexing#indexSelect}). A {@link Tensor} built on
 * one ({@link Tensor#stored}) is read-only; everything else that asks for its {@link Tensor#data()}
 * gets a fresh double copy (transient: nothing keeps it).
 *
 * <p>Guarantee every implementation owes the kernels: {@link #toDouble} returns, element by element,
 * exactly the double the dense form of the weight would hold (BF16, F16 and F32 convert to double
 * exactly; quantization codes are dequantized with the quantizer's own formula and operation order).
 * That is what keeps every product bit-identical to the product with the dense weight.
 */
public interface WeightStorage {
    /** The number of elements, in row-major order. */
    int size();

    /**
     * Writes elements {@code [from, from + count)} as doubles to {@code dst[dstOff ..]}; {@code dst} is
     * <em>modified</em>. Exact (see the class comment). Safe to call from several threads at once.
     */
    void toDouble(int from, int count, double[] dst, int dstOff);

    /**
     * The row-interleaved layout the elements are held in ({@link RowBlocks}), or {@code null} when they are
     * held row-major (the default). {@link #toDouble} reads row-major indices either way; the layout only
     * lets the one-row product ({@link BlockedGemv}) and the GEMM's packing pass read whole row blocks.
     */
    default RowBlocks rowBlocks() {
        return null;
    }

    /**
     * Writes the elements held at positions {@code [from, from + count)} of this storage's own layout
     * ({@link #rowBlocks}; the row-major index when that is null) as doubles to {@code dst[dstOff ..]};
     * {@code dst} is <em>modified</em>. Exact, as {@link #toDouble}; safe to call from several threads.
     */
    default void heldToDouble(int from, int count, double[] dst, int dstOff) {
        toDouble(from, count, dst, dstOff);
    }

    /** Bytes this storage holds in memory (arrays only), for reports. */
    long bytes();

    /** A short name of the form, e.g. {@code "BF16"} or {@code "int3 g128"}. */
    String describe();
}

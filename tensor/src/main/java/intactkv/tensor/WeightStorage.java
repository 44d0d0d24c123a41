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

    /** Bytes this storage holds in memory (arrays only), for reports. */
    long bytes();

    /** A short name of the form, e.g. {@code "BF16"} or {@code "int3 g128"}. */
    String describe();
}

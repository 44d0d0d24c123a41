package intactkv.tensor;

/**
 * BLAS level-1 {@code axpy} with a fused multiply-add: {@code y[i] = fma(alpha, x[i], y[i])} for
 * i = 0..n-1, the inner step of the fused attention kernels.
 *
 * <p>Each element is one {@code Math.fma}, independent of the others, so the Vector-API path
 * (used when the {@code jdk.incubator.vector} module is present, as for {@link Gemm}) and the
 * scalar {@link #reference} give bit-identical results: only independent elements are put in
 * vector lanes, no sum is reordered.
 */
public final class Axpy {
    private Axpy() {
    }

    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /**
     * {@code y[yOff + i] = fma(alpha, x[xOff + i], y[yOff + i])} for i < n; {@code y} is
     * <em>modified</em>, {@code x} is not. {@code x} and {@code y} may be the same array only
     * if the two ranges do not overlap.
     */
    public static void fma(double alpha, double[] x, int xOff, double[] y, int yOff, int n) {
        if (VECTOR) {
            VectorAxpy.fma(alpha, x, xOff, y, yOff, n);
        } else {
            reference(alpha, x, xOff, y, yOff, n);
        }
    }

    /**
     * A linear combination of rows, accumulated into {@code out}: for i = 0..count-1 in order,
     * {@code out[oOff + j] = fma(c[cOff + i*cStride], r[rOff + i*rStride + j], out[oOff + j])}
     * for j < width. This is {@link #fma} called once per row, with the same roundings in the same
     * order, but the vector path keeps {@code out} in registers across the rows. {@code out} is
     * <em>modified</em>; it must not overlap {@code c} or {@code r}.
     */
    public static void combine(double[] c, int cOff, int cStride, int count, double[] r, int rOff, int rStride,
                               double[] out, int oOff, int width) {
        if (VECTOR) {
            VectorAxpy.combine(c, cOff, cStride, count, r, rOff, rStride, out, oOff, width);
        } else {
            for (int i = 0; i < count; i++) {
                reference(c[cOff + i * cStride], r, rOff + i * rStride, out, oOff, width);
            }
        }
    }

    /**
     * {@link #combine} for four outputs at once over the same rows {@code r}: for q = 0..3,
     * {@code out[o_q + j] = fma(c[c_q + i*cStride], r[rOff + i*rStride + j], out[o_q + j])} for
     * i = 0..count-1 in order and j < width. Each output sees exactly the roundings of
     * {@code combine(c, c_q, cStride, count, r, rOff, rStride, out, o_q, width)}; the vector path
     * runs the four independent accumulation chains side by side, so a narrow {@code width} (the
     * head size, 16 in the built-in model) is not limited by the latency of one FMA chain, and each
     * row of {@code r} is loaded once for the four. The outputs must not overlap each other,
     * {@code c} or {@code r}.
     */
    public static void combine4(double[] c, int c0, int c1, int c2, int c3, int cStride, int count, double[] r,
                                int rOff, int rStride, double[] out, int o0, int o1, int o2, int o3, int width) {
        if (VECTOR) {
            VectorAxpy.combine4(c, c0, c1, c2, c3, cStride, count, r, rOff, rStride, out, o0, o1, o2, o3, width);
        } else {
            combine(c, c0, cStride, count, r, rOff, rStride, out, o0, width);
            combine(c, c1, cStride, count, r, rOff, rStride, out, o1, width);
            combine(c, c2, cStride, count, r, rOff, rStride, out, o2, width);
            combine(c, c3, cStride, count, r, rOff, rStride, out, o3, width);
        }
    }

    /** The scalar loop: the oracle of the vector path and the fallback without the Vector API. */
    public static void reference(double alpha, double[] x, int xOff, double[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
        }
    }
}

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

    /** The scalar loop: the oracle of the vector path and the fallback without the Vector API. */
    public static void reference(double alpha, double[] x, int xOff, double[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
        }
    }
}

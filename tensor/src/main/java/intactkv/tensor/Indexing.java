package intactkv.tensor;

/**
 * Index-based selection and its adjoints: {@code indexSelect} / {@code indexAdd} (embedding
 * lookup and its gradient) and {@code gather} / {@code scatterAdd} (like {@code torch.gather}
 * and {@code torch.Tensor.scatter_add_}). Index arrays are {@code int[]} in row-major order;
 * out-of-range indices throw naming the position and value.
 */
public final class Indexing {
    private Indexing() {
    }

    /**
     * Rows of {@code x} along axis 0: {@code out[i, ...] = x[idx[i], ...]}, shape
     * {@code (len(idx), x.shape[1:])}. Mirrors {@code torch.index_select(x, 0, idx)}.
     */
    public static Tensor indexSelect(Tensor x, int[] idx) {
        if (x.rank() < 1) {
            throw new IllegalArgumentException("indexSelect: needs rank >= 1, got shape " + x.shape());
        }
        int n = x.dim(0);
        int row = n == 0 ? 0 : x.numel() / n;
        double[] dst = new double[idx.length * row];
        WeightStorage stored = x.storage(); // an embedding in its file's dtype: only the selected rows become double
        double[] src = stored == null ? x.data() : null;
        for (int i = 0; i < idx.length; i++) {
            checkIndex("indexSelect", i, idx[i], n, x.shape());
            if (stored != null) {
                stored.toDouble(idx[i] * row, row, dst, i * row);
            } else {
                System.arraycopy(src, idx[i] * row, dst, i * row, row);
            }
        }
        int[] dims = x.shape().dims();
        dims[0] = idx.length;
        return Tensor.wrap(dst, dims);
    }

    /**
     * {@code dst[idx[i], ...] += src[i, ...]} for every i, in increasing i; the adjoint of
     * {@link #indexSelect}. {@code dst} is <em>modified</em>.
     */
    public static void indexAdd(Tensor dst, int[] idx, Tensor src) {
        int n = dst.dim(0);
        int row = n == 0 ? 0 : dst.numel() / n;
        if (src.rank() != dst.rank() || src.dim(0) != idx.length || src.numel() != idx.length * row) {
            throw new IllegalArgumentException("indexAdd: source shape " + src.shape() + " does not match "
                    + idx.length + " indices into " + dst.shape());
        }
        double[] d = dst.data();
        double[] s = src.data();
        for (int i = 0; i < idx.length; i++) {
            checkIndex("indexAdd", i, idx[i], n, dst.shape());
            int o = idx[i] * row;
            for (int j = 0; j < row; j++) {
                d[o + j] += s[i * row + j];
            }
        }
    }

    /**
     * {@code torch.gather(x, axis, index)}: {@code out} has the index's shape, and for axis 1
     * of a rank-3 tensor {@code out[i][j][k] = x[i][index[i][j][k]][k]}. The index shape must
     * equal {@code x}'s on every axis but {@code axis}.
     */
    public static Tensor gather(Tensor x, int axis, int[] index, Shape indexShape) {
        int ax = x.shape().normalizeAxis(axis);
        checkIndexShape("gather", x.shape(), ax, index, indexShape);
        int[] xs = x.shape().strides();
        int[] is = indexShape.strides();
        double[] out = new double[index.length];
        int n = x.dim(ax);
        for (int flat = 0; flat < index.length; flat++) {
            int v = index[flat];
            checkIndex("gather", flat, v, n, x.shape());
            out[flat] = x.data()[sourceOffset(flat, ax, v, is, xs)];
        }
        return Tensor.wrap(out, indexShape);
    }

    /**
     * The adjoint of {@link #gather}: {@code dst[... index[flat] ...] += src[flat]} along
     * {@code axis}, visiting {@code flat} in increasing order. {@code dst} is <em>modified</em>.
     */
    public static void scatterAdd(Tensor dst, int axis, int[] index, Shape indexShape, Tensor src) {
        int ax = dst.shape().normalizeAxis(axis);
        checkIndexShape("scatterAdd", dst.shape(), ax, index, indexShape);
        src.shape().requireEqual("scatterAdd (source)", indexShape);
        int[] xs = dst.shape().strides();
        int[] is = indexShape.strides();
        int n = dst.dim(ax);
        for (int flat = 0; flat < index.length; flat++) {
            int v = index[flat];
            checkIndex("scatterAdd", flat, v, n, dst.shape());
            dst.data()[sourceOffset(flat, ax, v, is, xs)] += src.data()[flat];
        }
    }

    private static int sourceOffset(int flat, int ax, int v, int[] indexStrides, int[] xStrides) {
        int off = 0;
        int rem = flat;
        for (int d = 0; d < indexStrides.length; d++) {
            int c = rem / indexStrides[d];
            rem -= c * indexStrides[d];
            off += (d == ax ? v : c) * xStrides[d];
        }
        return off;
    }

    private static void checkIndexShape(String op, Shape x, int ax, int[] index, Shape indexShape) {
        if (indexShape.numel() != index.length) {
            throw new IllegalArgumentException(op + ": " + index.length + " indices for index shape " + indexShape);
        }
        if (indexShape.rank() != x.rank()) {
            throw new IllegalArgumentException(op + ": index shape " + indexShape + " and tensor shape " + x
                    + " differ in rank");
        }
        for (int d = 0; d < x.rank(); d++) {
            if (d != ax && indexShape.dim(d) != x.dim(d)) {
                throw new IllegalArgumentException(op + " along axis " + ax + ": index shape " + indexShape
                        + " must match tensor shape " + x + " on every other axis");
            }
        }
    }

    private static void checkIndex(String op, int position, int value, int n, Shape shape) {
        if (value < 0 || value >= n) {
            throw new IndexOutOfBoundsException(op + ": index " + value + " at position " + position
                    + " out of range [0, " + n + ") for shape " + shape);
        }
    }

    /** Converts an integer-valued tensor to {@code int[]}, rejecting non-integers. */
    public static int[] toIndices(Tensor t) {
        double[] d = t.data();
        int[] out = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            if (d[i] != Math.rint(d[i]) || Math.abs(d[i]) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("toIndices: element " + i + " = " + d[i]
                        + " is not an integer (tensor " + t.shape() + ")");
            }
            out[i] = (int) d[i];
        }
        return out;
    }
}

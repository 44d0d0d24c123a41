package intactkv.tensor;

import java.util.Arrays;

/**
 * Operations that rearrange elements without arithmetic: permute/transpose, slice, concat,
 * split. Each returns a new contiguous tensor (see the package comment).
 */
public final class Layout {
    private Layout() {
    }

    /** Swaps axes {@code a1} and {@code a2}, like {@code torch.transpose}. */
    public static Tensor transpose(Tensor x, int a1, int a2) {
        int r = x.rank();
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        int i1 = x.shape().normalizeAxis(a1);
        int i2 = x.shape().normalizeAxis(a2);
        if (Math.min(i1, i2) == r - 2 && Math.max(i1, i2) == r - 1) {
            return transposeLastTwo(x);
        }
        perm[i1] = i2;
        perm[i2] = i1;
        return permute(x, perm);
    }

    /** The common case of {@link #transpose}: swap the last two axes, in cache-friendly tiles. */
    private static Tensor transposeLastTwo(Tensor x) {
        int r = x.rank();
        int rows = x.dim(r - 2);
        int cols = x.dim(r - 1);
        int mat = rows * cols;
        int batch = mat == 0 ? 0 : x.numel() / mat;
        double[] src = x.data();
        double[] dst = new double[src.length];
        final int tile = 32;
        for (int b = 0; b < batch; b++) {
            int o = b * mat;
            for (int i0 = 0; i0 < rows; i0 += tile) {
                for (int j0 = 0; j0 < cols; j0 += tile) {
                    int i1 = Math.min(rows, i0 + tile);
                    int j1 = Math.min(cols, j0 + tile);
                    for (int i = i0; i < i1; i++) {
                        for (int j = j0; j < j1; j++) {
                            dst[o + j * rows + i] = src[o + i * cols + j];
                        }
                    }
                }
            }
        }
        int[] dims = x.shape().dims();
        dims[r - 2] = cols;
        dims[r - 1] = rows;
        return Tensor.wrap(dst, dims);
    }

    /**
     * Reorders axes: output axis {@code i} is input axis {@code perm[i]}, like
     * {@code torch.permute}. {@code out[j_0..j_{r-1}] = x[k]} with {@code k[perm[i]] = j_i}.
     */
    public static Tensor permute(Tensor x, int... perm) {
        int r = x.rank();
        if (perm.length != r) {
            throw new IllegalArgumentException("permute: permutation " + Arrays.toString(perm)
                    + " does not match shape " + x.shape());
        }
        boolean[] seen = new boolean[r];
        for (int p : perm) {
            if (p < 0 || p >= r || seen[p]) {
                throw new IllegalArgumentException("permute: " + Arrays.toString(perm)
                        + " is not a permutation of the axes of shape " + x.shape());
            }
            seen[p] = true;
        }
        int[] inStrides = x.shape().strides();
        int[] outDims = new int[r];
        int[] srcStride = new int[r];
        for (int i = 0; i < r; i++) {
            outDims[i] = x.dim(perm[i]);
            srcStride[i] = inStrides[perm[i]];
        }
        double[] src = x.data();
        double[] dst = new double[src.length];
        if (dst.length > 0) {
            // Copy runs of `run` consecutive elements, walking the other output axes like an odometer:
            // whole rows when the last axis stays last (contiguous in both), single elements otherwise.
            boolean rows = r > 0 && srcStride[r - 1] == 1;
            int run = rows ? outDims[r - 1] : 1;
            int walked = rows ? r - 1 : r;
            int[] idx = new int[walked];
            int off = 0;
            for (int o = 0; o < dst.length; o += run) {
                if (run == 1) {
                    dst[o] = src[off];
                } else {
                    System.arraycopy(src, off, dst, o, run);
                }
                for (int ax = walked - 1; ax >= 0; ax--) {
                    idx[ax]++;
                    off += srcStride[ax];
                    if (idx[ax] < outDims[ax]) {
                        break;
                    }
                    off -= srcStride[ax] * outDims[ax];
                    idx[ax] = 0;
                }
            }
        }
        return Tensor.wrap(dst, outDims);
    }

    /** Elements {@code start <= i < end} along {@code axis}, like {@code x.narrow(axis, start, end-start)}. */
    public static Tensor slice(Tensor x, int axis, int start, int end) {
        int ax = x.shape().normalizeAxis(axis);
        int n = x.dim(ax);
        if (start < 0 || end > n || start > end) {
            throw new IndexOutOfBoundsException("slice: range [" + start + ", " + end + ") out of bounds for axis "
                    + axis + " of shape " + x.shape());
        }
        int[] dims = x.shape().dims();
        int inner = x.shape().sizeAfter(ax);
        int outer = x.shape().sizeBefore(ax);
        int len = end - start;
        double[] src = x.data();
        double[] dst = new double[outer * len * inner];
        for (int o = 0; o < outer; o++) {
            System.arraycopy(src, (o * n + start) * inner, dst, o * len * inner, len * inner);
        }
        dims[ax] = len;
        return Tensor.wrap(dst, dims);
    }

    /** Joins tensors along {@code axis}; all other sizes must agree, like {@code torch.cat}. */
    public static Tensor concat(int axis, Tensor... parts) {
        if (parts.length == 0) {
            throw new IllegalArgumentException("concat: no tensors given");
        }
        Shape first = parts[0].shape();
        int ax = first.normalizeAxis(axis);
        int total = 0;
        for (Tensor t : parts) {
            if (t.rank() != first.rank()) {
                throw new IllegalArgumentException("concat: shapes " + first + " and " + t.shape()
                        + " have different ranks");
            }
            for (int i = 0; i < first.rank(); i++) {
                if (i != ax && t.dim(i) != first.dim(i)) {
                    throw new IllegalArgumentException("concat along axis " + axis + ": shapes " + first
                            + " and " + t.shape() + " differ at axis " + i);
                }
            }
            total += t.dim(ax);
        }
        int[] dims = first.dims();
        int inner = first.sizeAfter(ax);
        int outer = first.sizeBefore(ax);
        double[] dst = new double[outer * total * inner];
        int at = 0;
        for (Tensor t : parts) {
            int len = t.dim(ax) * inner;
            for (int o = 0; o < outer; o++) {
                System.arraycopy(t.data(), o * len, dst, o * total * inner + at, len);
            }
            at += len;
        }
        dims[ax] = total;
        return Tensor.wrap(dst, dims);
    }

    /** Splits along {@code axis} into consecutive pieces of the given sizes, which must add up to the axis. */
    public static Tensor[] split(Tensor x, int axis, int... sizes) {
        int ax = x.shape().normalizeAxis(axis);
        int sum = 0;
        for (int s : sizes) {
            if (s < 0) {
                throw new IllegalArgumentException("split: negative size in " + Arrays.toString(sizes));
            }
            sum += s;
        }
        if (sum != x.dim(ax)) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + sum
                    + ", but axis " + axis + " of shape " + x.shape() + " has " + x.dim(ax));
        }
        Tensor[] out = new Tensor[sizes.length];
        int at = 0;
        for (int i = 0; i < sizes.length; i++) {
            out[i] = slice(x, ax, at, at + sizes[i]);
            at += sizes[i];
        }
        return out;
    }
}

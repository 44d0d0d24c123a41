package intactkv.tensor;

import java.util.Arrays;

/**
 * An immutable tensor shape: the sizes of each dimension, outermost first (row-major).
 *
 * <p>A shape with no dimensions is a scalar with one element. Dimensions of size 0 are
 * allowed (empty tensors) and sizes may not be negative.
 */
public final class Shape {
    private final int[] dims;
    private final int numel;

    private Shape(int[] dims) {
        long n = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0) {
                throw new IllegalArgumentException("negative dimension " + dims[i] + " at axis " + i
                        + " in shape " + Arrays.toString(dims));
            }
            n *= dims[i];
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims)
                        + " has more elements than a Java array can hold");
            }
        }
        this.dims = dims;
        this.numel = (int) n;
    }

    /** Shape with the given dimension sizes (copied). */
    public static Shape of(int... dims) {
        return new Shape(dims.clone());
    }

    /** The scalar shape {@code ()}. */
    public static Shape scalar() {
        return new Shape(new int[0]);
    }

    public int rank() {
        return dims.length;
    }

    /** Size of axis {@code axis}; negative axes count from the end ({@code -1} is the last). */
    public int dim(int axis) {
        return dims[normalizeAxis(axis)];
    }

    /** A copy of the dimension sizes. */
    public int[] dims() {
        return dims.clone();
    }

    /** Number of elements: the product of the dimensions (1 for a scalar). */
    public int numel() {
        return numel;
    }

    /** Row-major strides in elements: {@code stride[i] = prod(dims[i+1..])}. */
    public int[] strides() {
        int[] s = new int[dims.length];
        int acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }

    /** Maps {@code -rank..rank-1} to {@code 0..rank-1}, or throws naming the shape. */
    public int normalizeAxis(int axis) {
        int a = axis < 0 ? axis + dims.length : axis;
        if (a < 0 || a >= dims.length) {
            throw new IllegalArgumentException("axis " + axis + " out of range for shape " + this);
        }
        return a;
    }

    /** Product of the sizes before axis {@code axis} (the "outer" count when a kernel views the tensor as (outer, n, inner)). */
    public int sizeBefore(int axis) {
        int a = normalizeAxis(axis);
        int n = 1;
        for (int i = 0; i < a; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** Product of the sizes after axis {@code axis} (the "inner" stride of that axis). */
    public int sizeAfter(int axis) {
        int a = normalizeAxis(axis);
        int n = 1;
        for (int i = a + 1; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /** This shape with axis {@code axis} replaced by {@code size}. */
    public Shape withDim(int axis, int size) {
        int[] d = dims.clone();
        d[normalizeAxis(axis)] = size;
        return new Shape(d);
    }

    /**
     * The broadcast of two shapes (NumPy / PyTorch rules): align from the last axis; sizes
     * must be equal or one of them 1.
     *
     * @throws IllegalArgumentException naming {@code op} and both shapes if they do not broadcast
     */
    public static Shape broadcast(String op, Shape a, Shape b) {
        int r = Math.max(a.rank(), b.rank());
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.rank() ? 1 : a.dims[i - (r - a.rank())];
            int db = i < r - b.rank() ? 1 : b.dims[i - (r - b.rank())];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + a + " and " + b + " do not broadcast"
                        + " (axis " + i + " of the aligned shapes: " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return new Shape(out);
    }

    /** Throws naming {@code op}, the expected and the actual shape unless they are equal. */
    public void requireEqual(String op, Shape expected) {
        if (!equals(expected)) {
            throw new IllegalArgumentException(op + ": expected shape " + expected + ", got " + this);
        }
    }

    /** Throws naming {@code op} and this shape unless its rank is {@code rank}. */
    public void requireRank(String op, int rank) {
        if (dims.length != rank) {
            throw new IllegalArgumentException(op + ": expected a rank-" + rank + " tensor, got shape " + this);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** Formats as {@code (2, 3, 4)}, like PyTorch's {@code torch.Size}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(dims[i]);
        }
        if (dims.length == 1) {
            sb.append(',');
        }
        return sb.append(')').toString();
    }
}

package intactkv.tensor;

import java.util.Arrays;

/**
 * An n-dimensional array of doubles in contiguous row-major order.
 *
 * <p>The element at multi-index {@code (i0, i1, ..., ik)} lives at
 * {@code data[i0*stride0 + ... + ik*stridek]} with {@link Shape#strides()}. A tensor owns its
 * array; only {@link #reshape} returns a tensor that shares it. Tensors are mutable through
 * {@link #data()} and {@link #set}, which optimisers and kernels use; every operation in this
 * library returns a new tensor and leaves its arguments unmodified.
 *
 * <p>A weight may instead be held in a compact {@link WeightStorage} (its checkpoint's dtype, or
 * quantization codes): {@link #stored}. Such a tensor is read-only; the matrix kernels and the
 * embedding lookup read its storage directly, and {@link #data()} returns a fresh double copy
 * for any other reader (see {@link #data()}).
 *
 * <p>The instance methods below are conveniences that delegate to the operation classes
 * ({@link Elementwise}, {@link Reduce}, {@link MatMul}, {@link Layout}), where the Javadoc
 * with the formulas lives.
 */
public final class Tensor {
    private final Shape shape;
    private final double[] data;
    /** The compact form, or null for a tensor on {@link #data}. Exactly one of the two is set. */
    private final WeightStorage storage;

    private Tensor(Shape shape, double[] data) {
        if (data.length != shape.numel()) {
            throw new IllegalArgumentException("data of length " + data.length
                    + " does not match shape " + shape + " with " + shape.numel() + " elements");
        }
        this.shape = shape;
        this.data = data;
        this.storage = null;
    }

    private Tensor(Shape shape, WeightStorage storage) {
        if (storage.size() != shape.numel()) {
            throw new IllegalArgumentException(storage.describe() + " storage of " + storage.size()
                    + " elements does not match shape " + shape + " with " + shape.numel() + " elements");
        }
        this.shape = shape;
        this.data = null;
        this.storage = storage;
    }

    // ---------------------------------------------------------------- factories

    /** Wraps {@code data} (not copied) as a tensor of shape {@code dims}. */
    public static Tensor wrap(double[] data, int... dims) {
        return new Tensor(Shape.of(dims), data);
    }

    /** Wraps {@code data} (not copied) as a tensor of shape {@code shape}. */
    public static Tensor wrap(double[] data, Shape shape) {
        return new Tensor(shape, data);
    }

    /**
     * A read-only tensor of shape {@code shape} on the compact {@code storage} (not copied): what
     * loaded and quantized weights are, so that a model holds them at their own size.
     */
    public static Tensor stored(WeightStorage storage, Shape shape) {
        return new Tensor(shape, storage);
    }

    /** A tensor holding a copy of {@code data} with shape {@code dims}. */
    public static Tensor of(double[] data, int... dims) {
        return new Tensor(Shape.of(dims), data.clone());
    }

    /** A rank-1 tensor holding a copy of {@code values}. */
    public static Tensor vector(double... values) {
        return new Tensor(Shape.of(values.length), values.clone());
    }

    /** A rank-0 tensor holding {@code value}. */
    public static Tensor scalar(double value) {
        return new Tensor(Shape.scalar(), new double[] {value});
    }

    public static Tensor zeros(int... dims) {
        Shape s = Shape.of(dims);
        return new Tensor(s, new double[s.numel()]);
    }

    public static Tensor zeros(Shape shape) {
        return new Tensor(shape, new double[shape.numel()]);
    }

    public static Tensor full(Shape shape, double value) {
        double[] d = new double[shape.numel()];
        Arrays.fill(d, value);
        return new Tensor(shape, d);
    }

    public static Tensor ones(int... dims) {
        return full(Shape.of(dims), 1.0);
    }

    /** {@code [0, 1, ..., n-1]} as a rank-1 tensor. */
    public static Tensor arange(int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = i;
        }
        return new Tensor(Shape.of(n), d);
    }

    // ---------------------------------------------------------------- accessors

    public Shape shape() {
        return shape;
    }

    public int rank() {
        return shape.rank();
    }

    public int numel() {
        return shape.numel();
    }

    /** Size of axis {@code axis} (negative counts from the end). */
    public int dim(int axis) {
        return shape.dim(axis);
    }

    /**
     * The backing array itself (not a copy): writes to it change this tensor. For a tensor on a
     * {@link WeightStorage} ({@link #stored}), a fresh double copy of every element instead, made on
     * each call and kept by nobody: code that needs a weight as doubles (training, AWQ's scaling,
     * QuaRot's rotation, GPTQ's updates) gets it for as long as it holds the array, and writes to it
     * do not reach the weight. Call it once per use, not per element.
     */
    public double[] data() {
        if (storage != null) {
            double[] d = new double[storage.size()];
            storage.toDouble(0, d.length, d, 0);
            return d;
        }
        return data;
    }

    /** The compact storage of a tensor made by {@link #stored}, or null for a tensor on a {@code double[]}. */
    public WeightStorage storage() {
        return storage;
    }

    /** The only element of a one-element tensor. */
    public double item() {
        if (numel() != 1) {
            throw new IllegalArgumentException("item(): tensor of shape " + shape + " has " + numel()
                    + " elements, expected 1");
        }
        return get(new int[shape.rank()]);
    }

    /** Element at the multi-index {@code idx} (bounds-checked per axis). */
    public double get(int... idx) {
        int off = offset(idx);
        if (storage != null) {
            double[] one = new double[1];
            storage.toDouble(off, 1, one, 0);
            return one[0];
        }
        return data[off];
    }

    /** Sets the element at {@code idx} to {@code value}; this tensor is <em>modified</em>. Not on a stored tensor. */
    public void set(double value, int... idx) {
        if (storage != null) {
            throw new UnsupportedOperationException("set: a tensor on " + storage.describe()
                    + " storage is read-only (copy() it first)");
        }
        data[offset(idx)] = value;
    }

    private int offset(int[] idx) {
        if (idx.length != shape.rank()) {
            throw new IllegalArgumentException("index " + Arrays.toString(idx) + " has " + idx.length
                    + " components for a tensor of shape " + shape);
        }
        int off = 0;
        for (int i = 0; i < idx.length; i++) {
            int n = shape.dim(i);
            if (idx[i] < 0 || idx[i] >= n) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " out of range at axis "
                        + i + " for shape " + shape);
            }
            off = off * n + idx[i];
        }
        return off;
    }

    /** A deep copy, on a {@code double[]} (also for a stored tensor, so that the copy can be written). */
    public Tensor copy() {
        return new Tensor(shape, storage != null ? data() : data.clone());
    }

    /**
     * The same elements viewed with another shape of equal element count; shares storage.
     * One dimension may be {@code -1} and is then inferred.
     */
    public Tensor reshape(int... dims) {
        int[] d = dims.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < d.length; i++) {
            if (d[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape " + shape + " -> " + Arrays.toString(dims)
                            + ": only one dimension may be -1");
                }
                infer = i;
            } else {
                known *= d[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel() % known != 0) {
                throw new IllegalArgumentException("reshape " + shape + " -> " + Arrays.toString(dims)
                        + ": cannot infer the -1 dimension from " + numel() + " elements");
            }
            d[infer] = (int) (numel() / known);
        }
        return reshape(Shape.of(d));
    }

    /** The same elements viewed with shape {@code newShape}; shares storage. */
    public Tensor reshape(Shape newShape) {
        if (newShape.numel() != numel()) {
            throw new IllegalArgumentException("reshape: cannot view shape " + shape + " (" + numel()
                    + " elements) as " + newShape + " (" + newShape.numel() + " elements)");
        }
        return storage != null ? new Tensor(newShape, storage) : new Tensor(newShape, data);
    }

    // ---------------------------------------------------------------- conveniences

    public Tensor add(Tensor o) {
        return Elementwise.binary(BinaryOp.ADD, this, o);
    }

    public Tensor sub(Tensor o) {
        return Elementwise.binary(BinaryOp.SUB, this, o);
    }

    public Tensor mul(Tensor o) {
        return Elementwise.binary(BinaryOp.MUL, this, o);
    }

    public Tensor div(Tensor o) {
        return Elementwise.binary(BinaryOp.DIV, this, o);
    }

    /** {@code this * c} elementwise. */
    public Tensor scale(double c) {
        return Elementwise.map(this, x -> x * c);
    }

    public Tensor neg() {
        return Elementwise.map(this, x -> -x);
    }

    public Tensor matmul(Tensor o) {
        return MatMul.matmul(this, o);
    }

    /** Swaps two axes (copies). */
    public Tensor transpose(int axis1, int axis2) {
        return Layout.transpose(this, axis1, axis2);
    }

    /** Sum over {@code axes} (all axes if none given), dropping them. */
    public Tensor sum(int... axes) {
        return Reduce.sum(this, false, axes);
    }

    /** Largest |x| over all elements (0 for an empty tensor). */
    public double maxAbs() {
        double m = 0;
        for (double v : data()) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /**
     * Formats as {@code Tensor(shape)[v0, v1, ...]} with at most 8 leading values, for error
     * messages and debugging.
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor").append(shape).append('[');
        int n = Math.min(numel(), 8);
        double[] head = new double[n];
        if (storage != null) {
            storage.toDouble(0, n, head, 0);
        } else {
            System.arraycopy(data, 0, head, 0, n);
        }
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(head[i]);
        }
        if (numel() > n) {
            sb.append(", ...");
        }
        return sb.append(']').toString();
    }
}

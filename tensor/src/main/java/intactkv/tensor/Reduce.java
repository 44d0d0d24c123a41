package intactkv.tensor;

import java.util.Arrays;

/**
 * Reductions along axes.
 *
 * <p>A reduction over axis {@code k} of a tensor viewed as {@code (outer, n, inner)} computes
 * {@code out[o, i] = reduce_{j=0..n-1} x[o, j, i]}, accumulating in increasing {@code j}, so
 * results are deterministic. Several axes are reduced one after another.
 */
public final class Reduce {
    private Reduce() {
    }

    private enum Kind { SUM, MAX, MIN }

    /** Sum over {@code axes} (all axes when empty); {@code keepDim} keeps them with size 1. */
    public static Tensor sum(Tensor x, boolean keepDim, int... axes) {
        return reduce(Kind.SUM, x, keepDim, axes);
    }

    /** Mean over {@code axes} (all axes when empty): the sum divided by the number of reduced elements. */
    public static Tensor mean(Tensor x, boolean keepDim, int... axes) {
        Tensor s = sum(x, keepDim, axes);
        long count = 1;
        if (axes.length == 0) {
            count = x.numel();
        } else {
            for (int a : axes) {
                count *= x.dim(a);
            }
        }
        double n = count;
        return Elementwise.map(s, v -> v / n);
    }

    /** Maximum over {@code axes} (all axes when empty); NaN propagates. */
    public static Tensor max(Tensor x, boolean keepDim, int... axes) {
        return reduce(Kind.MAX, x, keepDim, axes);
    }

    /** Minimum over {@code axes} (all axes when empty); NaN propagates. */
    public static Tensor min(Tensor x, boolean keepDim, int... axes) {
        return reduce(Kind.MIN, x, keepDim, axes);
    }

    private static Tensor reduce(Kind kind, Tensor x, boolean keepDim, int... axes) {
        int r = x.rank();
        boolean[] reduced = new boolean[r];
        if (axes.length == 0) {
            Arrays.fill(reduced, true);
        }
        for (int a : axes) {
            int n = x.shape().normalizeAxis(a);
            if (reduced[n] && axes.length > 0) {
                throw new IllegalArgumentException(kind.name().toLowerCase(java.util.Locale.ROOT)
                        + ": axis " + a + " given twice for shape " + x.shape());
            }
            reduced[n] = true;
        }
        Tensor cur = x;
        for (int ax = r - 1; ax >= 0; ax--) {
            if (reduced[ax]) {
                cur = reduceAxis(kind, cur, ax);
            }
        }
        if (keepDim) {
            return cur;
        }
        int[] kept = new int[r];
        int k = 0;
        for (int ax = 0; ax < r; ax++) {
            if (!reduced[ax]) {
                kept[k++] = x.dim(ax);
            }
        }
        return cur.reshape(Shape.of(Arrays.copyOf(kept, k)));
    }

    /** Reduces one axis, keeping it with size 1. */
    private static Tensor reduceAxis(Kind kind, Tensor x, int axis) {
        int[] dims = x.shape().dims();
        int n = dims[axis];
        int inner = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            inner *= dims[i];
        }
        int outer = n == 0 ? x.numel() : x.numel() / (n * inner);
        if (n == 0) {
            outer = 1;
            for (int i = 0; i < axis; i++) {
                outer *= dims[i];
            }
            if (kind != Kind.SUM) {
                throw new IllegalArgumentException(kind.name().toLowerCase(java.util.Locale.ROOT)
                        + ": cannot reduce the empty axis " + axis + " of shape " + x.shape());
            }
        }
        double[] src = x.data();
        double[] out = new double[outer * inner];
        double identity = switch (kind) {
            case SUM -> 0.0;
            case MAX -> Double.NEGATIVE_INFINITY;
            case MIN -> Double.POSITIVE_INFINITY;
        };
        // out[o, i] = reduce over j = 0..n-1 in order; j is the outer loop so that the inner loop
        // runs over consecutive addresses (same order per element, better locality)
        if (inner == 1) { // the last axis: one running value per row
            for (int o = 0; o < outer; o++) {
                double acc = identity;
                for (int j = o * n; j < (o + 1) * n; j++) {
                    acc = switch (kind) {
                        case SUM -> acc + src[j];
                        case MAX -> Math.max(acc, src[j]);
                        case MIN -> Math.min(acc, src[j]);
                    };
                }
                out[o] = acc;
            }
            dims[axis] = 1;
            return Tensor.wrap(out, dims);
        }
        for (int o = 0; o < outer; o++) {
            int base = o * n * inner;
            int dst = o * inner;
            Arrays.fill(out, dst, dst + inner, identity);
            for (int j = 0; j < n; j++) {
                int row = base + j * inner;
                switch (kind) {
                    case SUM -> {
                        for (int i = 0; i < inner; i++) {
                            out[dst + i] = out[dst + i] + src[row + i];
                        }
                    }
                    case MAX -> {
                        for (int i = 0; i < inner; i++) {
                            out[dst + i] = Math.max(out[dst + i], src[row + i]);
                        }
                    }
                    case MIN -> {
                        for (int i = 0; i < inner; i++) {
                            out[dst + i] = Math.min(out[dst + i], src[row + i]);
                        }
                    }
                }
            }
        }
        dims[axis] = 1;
        return Tensor.wrap(out, dims);
    }

    /** The shape of a reduction of {@code shape} over {@code axes} (all if none) with the axes kept as 1. */
    public static Shape keptShape(Shape shape, int... axes) {
        int[] dims = shape.dims();
        if (axes.length == 0) {
            java.util.Arrays.fill(dims, 1);
        }
        for (int a : axes) {
            dims[shape.normalizeAxis(a)] = 1;
        }
        return Shape.of(dims);
    }

    /**
     * Sums {@code x} down to {@code target}, the adjoint of broadcasting {@code target} to
     * {@code x.shape()}: leading extra axes are summed away and axes where {@code target} has
     * size 1 are summed with the size kept. Autograd uses it to un-broadcast gradients.
     */
    public static Tensor sumTo(Tensor x, Shape target) {
        if (x.shape().equals(target)) {
            return x;
        }
        Shape check = Shape.broadcast("sumTo", x.shape(), target);
        if (!check.equals(x.shape())) {
            throw new IllegalArgumentException("sumTo: shape " + x.shape() + " is not a broadcast of "
                    + target);
        }
        int lead = x.rank() - target.rank();
        int[] axes = new int[x.rank()];
        int k = 0;
        for (int i = 0; i < x.rank(); i++) {
            if (i < lead || (target.dim(i - lead) == 1 && x.dim(i) != 1)) {
                axes[k++] = i;
            }
        }
        Tensor s = k == 0 ? x : sum(x, true, Arrays.copyOf(axes, k));
        return s.reshape(target);
    }

    /** Index of the largest element along the last axis, for each leading index (first on ties). */
    public static int[] argmaxLastAxis(Tensor x) {
        int n = x.dim(-1);
        int rows = n == 0 ? 0 : x.numel() / n;
        int[] out = new int[rows];
        double[] d = x.data();
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int j = 1; j < n; j++) {
                if (d[r * n + j] > d[r * n + best]) {
                    best = j;
                }
            }
            out[r] = best;
        }
        return out;
    }
}

package intactkv.tensor;

import java.util.function.DoubleUnaryOperator;

/**
 * Elementwise operations with NumPy/PyTorch broadcasting.
 *
 * <p>For {@code c = op(a, b)}: the shapes are aligned from the last axis, each pair of sizes
 * must be equal or contain a 1, and {@code c[i] = op(a[i'], b[i''])} where {@code i'} and
 * {@code i''} clamp the broadcast axes of {@code i} to 0. Arguments are not modified.
 */
public final class Elementwise {
    private Elementwise() {
    }

    /** {@code op(a, b)} broadcast; see the class comment. */
    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        Shape out = Shape.broadcast(op.name().toLowerCase(java.util.Locale.ROOT), a.shape(), b.shape());
        double[] x = a.data();
        double[] y = b.data();
        double[] z = new double[out.numel()];
        if (a.shape().equals(b.shape())) {
            vecVec(op, x, 0, y, 0, z, 0, z.length);
        } else if (y.length == 1 && a.shape().equals(out)) {
            vecScalar(op, x, 0, y[0], z, 0, z.length);
        } else if (x.length == 1 && b.shape().equals(out)) {
            scalarVec(op, x[0], y, 0, z, 0, z.length);
        } else if (a.shape().equals(out) && isSuffix(b.shape(), out) && y.length > 0) {
            // b repeats over the leading axes (a bias, a mask, a norm weight): b index = i mod |b|
            int n = y.length;
            for (int base = 0; base < z.length; base += n) {
                vecVec(op, x, base, y, 0, z, base, n);
            }
        } else if (a.shape().equals(out) && isRowBroadcast(b.shape(), out)) {
            // b has the shape of a with the last axis 1 (a per-row statistic): b index = i / d
            int d = out.dim(-1);
            for (int r = 0; r < y.length; r++) {
                vecScalar(op, x, r * d, y[r], z, r * d, d);
            }
        } else {
            general(op, a, b, out, z);
        }
        return Tensor.wrap(z, out);
    }

    /*
     * The fast paths below compute exactly op.applyAsDouble element by element; the four
     * arithmetic operations get plain loops (which the JIT vectorises) instead of a call per element.
     */

    /** {@code z[zo+i] = op(x[xo+i], y[yo+i])} for i < n. */
    private static void vecVec(BinaryOp op, double[] x, int xo, double[] y, int yo, double[] z, int zo, int n) {
        switch (op) {
            case ADD -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] + y[yo + i];
                }
            }
            case SUB -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] - y[yo + i];
                }
            }
            case MUL -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] * y[yo + i];
                }
            }
            case DIV -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] / y[yo + i];
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = op.applyAsDouble(x[xo + i], y[yo + i]);
                }
            }
        }
    }

    /** {@code z[zo+i] = op(x[xo+i], c)} for i < n. */
    private static void vecScalar(BinaryOp op, double[] x, int xo, double c, double[] z, int zo, int n) {
        switch (op) {
            case ADD -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] + c;
                }
            }
            case SUB -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] - c;
                }
            }
            case MUL -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] * c;
                }
            }
            case DIV -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = x[xo + i] / c;
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = op.applyAsDouble(x[xo + i], c);
                }
            }
        }
    }

    /** {@code z[zo+i] = op(c, y[yo+i])} for i < n. */
    private static void scalarVec(BinaryOp op, double c, double[] y, int yo, double[] z, int zo, int n) {
        switch (op) {
            case MUL -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = c * y[yo + i];
                }
            }
            case DIV -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = c / y[yo + i];
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    z[zo + i] = op.applyAsDouble(c, y[yo + i]);
                }
            }
        }
    }

    /** Whether {@code s}, without its leading size-1 axes, equals the trailing axes of {@code out}. */
    private static boolean isSuffix(Shape s, Shape out) {
        int lead = 0;
        while (lead < s.rank() && s.dim(lead) == 1) {
            lead++;
        }
        int k = s.rank() - lead;
        if (k > out.rank()) {
            return false;
        }
        for (int i = 0; i < k; i++) {
            if (s.dim(lead + i) != out.dim(out.rank() - k + i)) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code s} is {@code out} with the last axis 1 (same rank). */
    private static boolean isRowBroadcast(Shape s, Shape out) {
        if (s.rank() != out.rank() || out.rank() == 0 || s.dim(-1) != 1 || out.dim(-1) == 0) {
            return false;
        }
        for (int i = 0; i < out.rank() - 1; i++) {
            if (s.dim(i) != out.dim(i)) {
                return false;
            }
        }
        return true;
    }

    /** The general path: walks the output in row-major order, carrying both input offsets. */
    private static void general(BinaryOp op, Tensor a, Tensor b, Shape out, double[] z) {
        int r = out.rank();
        int[] dims = out.dims();
        int[] sa = broadcastStrides(a.shape(), out);
        int[] sb = broadcastStrides(b.shape(), out);
        double[] x = a.data();
        double[] y = b.data();
        if (z.length == 0) {
            return;
        }
        int[] idx = new int[r];
        int inner = r == 0 ? 1 : dims[r - 1];
        int ia = r == 0 ? 0 : sa[r - 1];
        int ib = r == 0 ? 0 : sb[r - 1];
        int offA = 0;
        int offB = 0;
        for (int o = 0; o < z.length; o += inner) {
            int pa = offA;
            int pb = offB;
            for (int j = 0; j < inner; j++) {
                z[o + j] = op.applyAsDouble(x[pa], y[pb]);
                pa += ia;
                pb += ib;
            }
            // advance the multi-index over the outer axes (odometer)
            for (int ax = r - 2; ax >= 0; ax--) {
                idx[ax]++;
                offA += sa[ax];
                offB += sb[ax];
                if (idx[ax] < dims[ax]) {
                    break;
                }
                offA -= sa[ax] * dims[ax];
                offB -= sb[ax] * dims[ax];
                idx[ax] = 0;
            }
        }
    }

    /**
     * Strides of {@code src} aligned to the broadcast shape {@code out}: 0 on axes that
     * {@code src} lacks or has with size 1.
     */
    static int[] broadcastStrides(Shape src, Shape out) {
        int r = out.rank();
        int[] s = new int[r];
        int[] st = src.strides();
        int shift = r - src.rank();
        for (int i = 0; i < src.rank(); i++) {
            s[i + shift] = src.dim(i) == 1 ? 0 : st[i];
        }
        return s;
    }

    /** {@code f(a)} elementwise. */
    public static Tensor map(Tensor a, DoubleUnaryOperator f) {
        double[] x = a.data();
        double[] z = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            z[i] = f.applyAsDouble(x[i]);
        }
        return Tensor.wrap(z, a.shape());
    }

    /** {@code a} broadcast to {@code shape} (copied), like {@code torch.Tensor.expand(...).clone()}. */
    public static Tensor broadcastTo(Tensor a, Shape shape) {
        Shape out = Shape.broadcast("broadcastTo", a.shape(), shape);
        if (!out.equals(shape)) {
            throw new IllegalArgumentException("broadcastTo: shape " + a.shape() + " cannot be expanded to "
                    + shape);
        }
        return binary(BinaryOp.ADD, a, Tensor.zeros(shape));
    }

    /**
     * {@code cond != 0 ? a : b} elementwise with broadcasting over all three, like
     * {@code torch.where}.
     */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Shape out = Shape.broadcast("where", Shape.broadcast("where", cond.shape(), a.shape()), b.shape());
        Tensor c = broadcastTo(cond, out);
        Tensor x = broadcastTo(a, out);
        Tensor y = broadcastTo(b, out);
        double[] z = new double[out.numel()];
        for (int i = 0; i < z.length; i++) {
            z[i] = c.data()[i] != 0 ? x.data()[i] : y.data()[i];
        }
        return Tensor.wrap(z, out);
    }
}

package intactkv.tensor;

/**
 * Numerically stable softmax, log-softmax and logsumexp along one axis.
 *
 * <p>With {@code m = max_j x_j} (a constant shift that cancels):
 * <pre>
 *   logsumexp(x) = m + log sum_j exp(x_j - m)
 *   softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)
 *   logsoftmax(x)_i = x_i - logsumexp(x)
 * </pre>
 * An all {@code -inf} row (fully masked) gives a softmax of NaN, as in PyTorch; the model
 * never produces one because a query always sees itself.
 */
public final class Softmax {
    private Softmax() {
    }

    private enum Kind { SOFTMAX, LOG_SOFTMAX, LOGSUMEXP }

    /** Softmax along {@code axis}; same shape as {@code x}. */
    public static Tensor softmax(Tensor x, int axis) {
        return apply(Kind.SOFTMAX, x, axis);
    }

    /** Log-softmax along {@code axis}; same shape as {@code x}. */
    public static Tensor logSoftmax(Tensor x, int axis) {
        return apply(Kind.LOG_SOFTMAX, x, axis);
    }

    /** Logsumexp along {@code axis}, which is kept with size 1. */
    public static Tensor logSumExp(Tensor x, int axis) {
        return apply(Kind.LOGSUMEXP, x, axis);
    }

    private static Tensor apply(Kind kind, Tensor x, int axis) {
        int ax = x.shape().normalizeAxis(axis);
        int[] dims = x.shape().dims();
        int n = dims[ax];
        int inner = x.shape().sizeAfter(ax);
        int outer = x.shape().sizeBefore(ax);
        double[] src = x.data();
        double[] dst = new double[kind == Kind.LOGSUMEXP ? outer * inner : src.length];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                int base = o * n * inner + i;
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < n; j++) {
                    m = Math.max(m, src[base + j * inner]);
                }
                double shift = Double.isInfinite(m) ? 0.0 : m;
                double s = 0;
                for (int j = 0; j < n; j++) {
                    s += Math.exp(src[base + j * inner] - shift);
                }
                switch (kind) {
                    case SOFTMAX -> {
                        for (int j = 0; j < n; j++) {
                            dst[base + j * inner] = Math.exp(src[base + j * inner] - shift) / s;
                        }
                    }
                    case LOG_SOFTMAX -> {
                        double lse = shift + Math.log(s);
                        for (int j = 0; j < n; j++) {
                            dst[base + j * inner] = src[base + j * inner] - lse;
                        }
                    }
                    case LOGSUMEXP -> dst[o * inner + i] = shift + Math.log(s);
                }
            }
        }
        if (kind == Kind.LOGSUMEXP) {
            dims[ax] = 1;
        }
        return Tensor.wrap(dst, dims);
    }
}

package intactkv.tensor;

import java.util.Arrays;

/** Validation helpers shared by the later modules. */
public final class Checks {
    private Checks() {
    }

    /**
     * Throws if {@code t} holds a NaN or an infinity, naming {@code what} (a tensor or layer
     * name), the first offending multi-index and its value.
     */
    public static Tensor requireFinite(String what, Tensor t) {
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) {
            if (!Double.isFinite(d[i])) {
                throw new IllegalArgumentException(what + ": non-finite value " + d[i] + " at index "
                        + Arrays.toString(unravel(i, t.shape())) + " of a tensor of shape " + t.shape());
            }
        }
        return t;
    }

    /** The multi-index of flat position {@code flat} in row-major order. */
    public static int[] unravel(int flat, Shape shape) {
        int[] idx = new int[shape.rank()];
        int rem = flat;
        for (int i = shape.rank() - 1; i >= 0; i--) {
            int n = shape.dim(i);
            idx[i] = rem % n;
            rem /= n;
        }
        return idx;
    }
}

package intactkv.autograd;

import intactkv.tensor.Layout;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;

/**
 * Layout operations. Their gradients move {@code G} back to where each element came from:
 * reshape reshapes back, a permutation applies the inverse permutation, a slice pads with
 * zeros, a concatenation splits.
 */
public final class Shaping {
    private Shaping() {
    }

    /** Same elements, new shape (one size may be -1). {@code dL/da = reshape(G, a.shape)}. */
    public static Value reshape(Value a, int... dims) {
        Tensor out = a.data().reshape(dims);
        return Value.result("reshape", out, g -> a.accumulate(g.reshape(a.shape())), a);
    }

    /** Swaps two axes. {@code dL/da = transpose(G)} with the same two axes. */
    public static Value transpose(Value a, int axis1, int axis2) {
        Tensor out = Layout.transpose(a.data(), axis1, axis2);
        return Value.result("transpose", out, g -> a.accumulate(Layout.transpose(g, axis1, axis2)), a);
    }

    /** Output axis i is input axis {@code perm[i]}. {@code dL/da = permute(G, inverse(perm))}. */
    public static Value permute(Value a, int... perm) {
        Tensor out = Layout.permute(a.data(), perm);
        int[] inverse = new int[perm.length];
        for (int i = 0; i < perm.length; i++) {
            inverse[perm[i]] = i;
        }
        return Value.result("permute", out, g -> a.accumulate(Layout.permute(g, inverse)), a);
    }

    /**
     * Elements {@code start <= i < end} along {@code axis}. {@code dL/da} is G placed at those
     * positions and zero elsewhere.
     */
    public static Value slice(Value a, int axis, int start, int end) {
        Tensor out = Layout.slice(a.data(), axis, start, end);
        return Value.result("slice", out, g -> {
            Shape s = a.shape();
            int ax = s.normalizeAxis(axis);
            Tensor before = Tensor.zeros(s.withDim(ax, start));
            Tensor after = Tensor.zeros(s.withDim(ax, s.dim(ax) - end));
            a.accumulate(Layout.concat(ax, before, g, after));
        }, a);
    }

    /** Joins along {@code axis}. Each part receives its slice of G. */
    public static Value concat(int axis, Value... parts) {
        Tensor[] data = new Tensor[parts.length];
        int[] sizes = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            data[i] = parts[i].data();
        }
        Tensor out = Layout.concat(axis, data);
        int ax = out.shape().normalizeAxis(axis);
        for (int i = 0; i < parts.length; i++) {
            sizes[i] = data[i].dim(ax);
        }
        return Value.result("concat", out, g -> {
            Tensor[] pieces = Layout.split(g, ax, sizes);
            for (int i = 0; i < parts.length; i++) {
                parts[i].accumulate(pieces[i]);
            }
        }, parts);
    }
}

package intactkv.autograd;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Reduce;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;

/**
 * Sum and mean over axes. Their gradients broadcast {@code G} back over the reduced axes:
 * {@code dL/da[i] = G[i with reduced axes dropped]} (divided by the count for the mean).
 */
public final class Reductions {
    private Reductions() {
    }

    /** {@code c = sum over axes of a} (all axes if none). {@code dL/da = broadcast(G)}. */
    public static Value sum(Value a, boolean keepDim, int... axes) {
        Tensor out = Reduce.sum(a.data(), keepDim, axes);
        Shape kept = Reduce.keptShape(a.shape(), axes);
        return Value.result("sum", out,
                g -> a.accumulate(Elementwise.broadcastTo(g.reshape(kept), a.shape())), a);
    }

    /** {@code c = mean over axes of a} (all axes if none). {@code dL/da = broadcast(G) / n}. */
    public static Value mean(Value a, boolean keepDim, int... axes) {
        Tensor out = Reduce.mean(a.data(), keepDim, axes);
        Shape kept = Reduce.keptShape(a.shape(), axes);
        double n = (double) a.data().numel() / Math.max(1, kept.numel());
        return Value.result("mean", out,
                g -> a.accumulate(Elementwise.broadcastTo(g.reshape(kept), a.shape()).scale(1.0 / n)), a);
    }
}

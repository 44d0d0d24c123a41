package intactkv.autograd;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Indexing;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;

/**
 * Selection by condition or index. Gradients flow only to the selected elements; repeated
 * indices accumulate (engine rule 3).
 */
public final class Selection {
    private Selection() {
    }

    /**
     * {@code c = cond != 0 ? a : b} (all three broadcast, like {@code torch.where}); {@code cond}
     * is a constant tensor. {@code dL/da = where(cond, G, 0)}, {@code dL/db = where(cond, 0, G)}.
     */
    public static Value where(Tensor cond, Value a, Value b) {
        Tensor out = Elementwise.where(cond, a.data(), b.data());
        return Value.result("where", out, g -> {
            Tensor zero = Tensor.scalar(0.0);
            if (a.requiresGrad()) {
                a.accumulateBroadcast(Elementwise.where(cond, g, zero));
            }
            if (b.requiresGrad()) {
                b.accumulateBroadcast(Elementwise.where(cond, zero, g));
            }
        }, a, b);
    }

    /**
     * Embedding lookup: rows {@code ids} of {@code weight (V, d)}, shape {@code (len(ids), d)}.
     * {@code dL/dweight[v] = sum over i with ids[i] = v of G[i]}.
     */
    public static Value embedding(Value weight, int[] ids) {
        Tensor out = Indexing.indexSelect(weight.data(), ids);
        return Value.result("embedding", out, g -> {
            Tensor dw = Tensor.zeros(weight.shape());
            Indexing.indexAdd(dw, ids, g);
            weight.accumulate(dw);
        }, weight);
    }

    /**
     * {@code torch.gather(a, axis, index)} with the index given as {@code int[]} of shape
     * {@code indexShape}. {@code dL/da = scatter_add(zeros, axis, index, G)}.
     */
    public static Value gather(Value a, int axis, int[] index, Shape indexShape) {
        Tensor out = Indexing.gather(a.data(), axis, index, indexShape);
        return Value.result("gather", out, g -> {
            Tensor da = Tensor.zeros(a.shape());
            Indexing.scatterAdd(da, axis, index, indexShape, g);
            a.accumulate(da);
        }, a);
    }
}

package intactkv.autograd;

import intactkv.tensor.Reduce;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * A tensor in the computation graph: its data, its gradient, and for a computed value the
 * operation that made it and how to send a gradient back to the inputs.
 *
 * <p>Leaves are made with {@link #param} (trainable, {@code requiresGrad}) or
 * {@link #constant}. Operations in this package make the other values through
 * {@link #result}. The engine rules are listed in the package documentation.
 */
public final class Value {
    /** Sends the gradient of the output ({@code dL/dout}, shape of the output) to the inputs. */
    @FunctionalInterface
    public interface Backward {
        void apply(Tensor gradOut);
    }

    private final Tensor data;
    private final boolean requiresGrad;
    private final String op;
    private final Value[] inputs;
    private final Backward backward;
    private Tensor grad;
    private boolean gradOwned;

    private Value(Tensor data, boolean requiresGrad, String op, Value[] inputs, Backward backward) {
        this.data = data;
        this.requiresGrad = requiresGrad;
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
    }

    /** A trainable leaf: gradients are accumulated into it. */
    public static Value param(Tensor data) {
        return new Value(data, true, "param", new Value[0], null);
    }

    /** A constant leaf: no gradient is computed for it. */
    public static Value constant(Tensor data) {
        return new Value(data, false, "constant", new Value[0], null);
    }

    /**
     * The output of operation {@code op} on {@code inputs}. A graph node is recorded only when
     * gradient mode is on and some input requires a gradient; otherwise the result is a
     * constant and {@code backward} is dropped.
     */
    public static Value result(String op, Tensor out, Backward backward, Value... inputs) {
        if (GradMode.enabled()) {
            for (Value v : inputs) {
                if (v.requiresGrad) {
                    return new Value(out, true, op, inputs.clone(), backward);
                }
            }
        }
        return new Value(out, false, op, new Value[0], null);
    }

    public Tensor data() {
        return data;
    }

    public Shape shape() {
        return data.shape();
    }

    /** Whether a gradient is computed for this value. */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** Name of the operation that produced this value ({@code "param"}, {@code "constant"} for leaves). */
    public String op() {
        return op;
    }

    /** The inputs of the recorded operation (empty for leaves and constants). */
    public List<Value> inputs() {
        return List.of(inputs);
    }

    /** Whether this is a leaf (no recorded operation). */
    public boolean isLeaf() {
        return backward == null;
    }

    /**
     * The accumulated gradient {@code dL/dthis}, or {@code null} if none has reached this value.
     * Kept for leaves; for intermediate values it is released once its backward has run.
     */
    public Tensor grad() {
        return grad;
    }

    /** Drops the accumulated gradient. */
    public void zeroGrad() {
        grad = null;
        gradOwned = false;
    }

    /** The same data as a constant: gradients stop here (like {@code torch.Tensor.detach}). */
    public Value detach() {
        return constant(data);
    }

    /** The single element of a one-element value. */
    public double item() {
        return data.item();
    }

    /**
     * Adds {@code g} (shape of this value) into the gradient; a no-op if this value does not
     * require a gradient. Backward functions call it; {@code g} is not modified or kept
     * aliased in a leaf.
     */
    public void accumulate(Tensor g) {
        if (!requiresGrad) {
            return;
        }
        if (!g.shape().equals(data.shape())) {
            throw new IllegalStateException("gradient of shape " + g.shape() + " sent to a value of shape "
                    + data.shape() + " made by '" + op + "'");
        }
        if (grad == null) {
            // Leaves own their gradient (optimisers modify it in place); inner nodes may alias.
            grad = isLeaf() ? g.copy() : g;
            gradOwned = isLeaf();
            return;
        }
        if (!gradOwned) {
            grad = grad.copy();
            gradOwned = true;
        }
        double[] a = grad.data();
        double[] b = g.data();
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    /** Un-broadcasts {@code g} to this value's shape, then {@link #accumulate}s it. */
    public void accumulateBroadcast(Tensor g) {
        if (requiresGrad) {
            accumulate(Reduce.sumTo(g, data.shape()));
        }
    }

    /** Back-propagates from a one-element value with seed 1 ({@code dL/dL = 1}). */
    public void backward() {
        if (data.numel() != 1) {
            throw new IllegalStateException("backward() without an upstream gradient needs a one-element output,"
                    + " but '" + op + "' produced shape " + data.shape()
                    + "; pass the upstream gradient with backward(Tensor)");
        }
        backward(Tensor.full(data.shape(), 1.0));
    }

    /**
     * Back-propagates the upstream gradient {@code seed} ({@code dL/dthis}, same shape as this
     * value) to every leaf that requires a gradient. Nodes are visited in reverse topological
     * order (package rule 2); intermediate gradients are released after use.
     */
    public void backward(Tensor seed) {
        if (!requiresGrad) {
            throw new IllegalStateException("backward(): '" + op + "' output of shape " + data.shape()
                    + " does not require a gradient (no input was a param, or it was computed under noGrad)");
        }
        if (!seed.shape().equals(data.shape())) {
            throw new IllegalArgumentException("backward(): upstream gradient of shape " + seed.shape()
                    + " does not match output '" + op + "' of shape " + data.shape());
        }
        List<Value> order = topologicalOrder();
        accumulate(seed);
        for (int i = order.size() - 1; i >= 0; i--) {
            Value v = order.get(i);
            if (v.backward != null && v.grad != null) {
                Tensor g = v.grad;
                v.grad = null;
                v.gradOwned = false;
                v.backward.apply(g);
            }
        }
    }

    /**
     * Every value that requires a gradient and reaches this one, inputs before outputs
     * (post-order of an iterative depth-first search following inputs in argument order).
     */
    List<Value> topologicalOrder() {
        List<Value> order = new ArrayList<>();
        Set<Value> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Value> nodes = new ArrayDeque<>();
        ArrayDeque<Integer> next = new ArrayDeque<>();
        nodes.push(this);
        next.push(0);
        seen.add(this);
        while (!nodes.isEmpty()) {
            Value v = nodes.peek();
            int i = next.pop();
            if (i < v.inputs.length) {
                next.push(i + 1);
                Value in = v.inputs[i];
                if (in.requiresGrad && seen.add(in)) {
                    nodes.push(in);
                    next.push(0);
                }
            } else {
                nodes.pop();
                order.add(v);
            }
        }
        return order;
    }

    @Override
    public String toString() {
        return "Value(" + op + ", " + data + (requiresGrad ? ", requiresGrad" : "") + ")";
    }
}

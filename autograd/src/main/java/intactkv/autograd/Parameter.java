package intactkv.autograd;

import java.util.List;

/**
 * A named trainable value, as optimisers and checkpoints see it (like an entry of
 * {@code model.named_parameters()}).
 */
public record Parameter(String name, Value value) {
    public Parameter {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("parameter name must not be empty");
        }
        if (!value.requiresGrad() || !value.isLeaf()) {
            throw new IllegalArgumentException("parameter '" + name + "' must be a trainable leaf (Value.param)");
        }
    }

    /** Clears the gradients of all {@code params}. */
    public static void zeroGrad(List<Parameter> params) {
        for (Parameter p : params) {
            p.value().zeroGrad();
        }
    }
}

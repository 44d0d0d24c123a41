package intactkv.autograd;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Tensor;

/** Elementwise transcendental functions; {@code G = dL/dc} is the upstream gradient. */
public final class Pointwise {
    private Pointwise() {
    }

    /** {@code c = exp(a)}. {@code dL/da = G * c}. */
    public static Value exp(Value a) {
        Tensor out = Elementwise.map(a.data(), Math::exp);
        return Value.result("exp", out, g -> a.accumulate(g.mul(out)), a);
    }

    /** {@code c = log(a)} (natural). {@code dL/da = G / a}. */
    public static Value log(Value a) {
        Tensor out = Elementwise.map(a.data(), Math::log);
        return Value.result("log", out, g -> a.accumulate(g.div(a.data())), a);
    }

    /** {@code c = sqrt(a)}. {@code dL/da = G / (2 c)}. */
    public static Value sqrt(Value a) {
        Tensor out = Elementwise.map(a.data(), Math::sqrt);
        return Value.result("sqrt", out, g -> a.accumulate(g.div(out.scale(2.0))), a);
    }

    /** {@code c = 1 / sqrt(a)} (as {@code torch.rsqrt}). {@code dL/da = -G c^3 / 2}. */
    public static Value rsqrt(Value a) {
        Tensor out = Elementwise.map(a.data(), x -> 1.0 / Math.sqrt(x));
        return Value.result("rsqrt", out,
                g -> a.accumulate(g.mul(Elementwise.map(out, c -> -0.5 * c * c * c))), a);
    }
}

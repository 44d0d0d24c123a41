package intactkv.autograd;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Tensor;

/**
 * The two non-smooth primitives of fake quantization, with the gradients the
 * straight-through estimator (STE) defines.
 */
public final class QuantOps {
    private QuantOps() {
    }

    /**
     * {@code round_ste(a) = a + stopgrad(rint(a) - a)}: forward rounds half to even
     * ({@link Math#rint}, like {@code torch.round}); backward passes the gradient unchanged,
     * {@code dL/da = G}. Mirrors OmniQuant's {@code round_ste}.
     */
    public static Value roundSte(Value a) {
        return Value.result("roundSte", Elementwise.map(a.data(), Math::rint), a::accumulate, a);
    }

    /**
     * {@code c = min(max(a, lo), hi)}, like {@code torch.clamp(a, lo, hi)}. Gradient only
     * inside the range, bounds included (as PyTorch): {@code dL/da = G * [lo <= a <= hi]}.
     */
    public static Value clamp(Value a, double lo, double hi) {
        if (!(lo <= hi)) {
            throw new IllegalArgumentException("clamp: need lo <= hi, got lo = " + lo + ", hi = " + hi);
        }
        Tensor out = Elementwise.map(a.data(), x -> Math.min(Math.max(x, lo), hi));
        return Value.result("clamp", out, g -> {
            Tensor inside = Elementwise.map(a.data(), x -> x >= lo && x <= hi ? 1.0 : 0.0);
            a.accumulate(g.mul(inside));
        }, a);
    }
}

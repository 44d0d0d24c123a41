package intactkv.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Exact checks of the straight-through estimators. Finite differences do not apply to
 * {@code roundSte} (the true derivative of rounding is 0 almost everywhere); its gradient
 * is 1 by definition.
 */
class QuantOpsTest {
    @Test
    @ChecksGradientOf("QuantOps.roundSte")
    void roundSteRoundsHalfToEvenAndPassesGradientUnchanged() {
        Value x = Value.param(Tensor.vector(0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001, -3.7));
        Value y = QuantOps.roundSte(x);
        assertArrayEquals(new double[] {0, 2, 2, -0.0, -2, 2, 3, -4}, y.data().data());
        Tensor g = Tensor.vector(1, 2, 3, 4, 5, 6, 7, 8);
        y.backward(g);
        assertArrayEquals(g.data(), x.grad().data());
    }

    @Test
    void clampGradientIsOneInsideIncludingBoundsAndZeroOutside() {
        Value x = Value.param(Tensor.vector(-2, -1, 0, 1, 3));
        Value y = QuantOps.clamp(x, -1, 1);
        assertArrayEquals(new double[] {-1, -1, 0, 1, 1}, y.data().data());
        y.backward(Tensor.vector(1, 1, 1, 1, 1));
        assertArrayEquals(new double[] {0, 1, 1, 1, 0}, x.grad().data());
        assertThrows(IllegalArgumentException.class, () -> QuantOps.clamp(x, 1, -1));
    }

    /** The STE fake-quant chain: gradient 1 where the rounded value stays in range, 0 where clamped. */
    @Test
    void fakeQuantChainHasStraightThroughGradient() {
        double s = 0.5;
        Value x = Value.param(Tensor.vector(-3, -0.2, 0.26, 0.9, 5));
        Value q = Arithmetic.scale(QuantOps.clamp(QuantOps.roundSte(Arithmetic.scale(x, 1 / s)), -2, 2), s);
        assertArrayEquals(new double[] {-1, -0.0, 0.5, 1.0, 1}, q.data().data());
        q.backward(Tensor.vector(1, 1, 1, 1, 1));
        assertArrayEquals(new double[] {0, 1, 1, 1, 0}, x.grad().data());
    }
}

package intactkv.autograd;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The checker itself must be able to fail: a deliberately wrong gradient is caught. */
class GradCheckTest {
    /** {@code x^2} with the gradient off by 1 % ({@code 2.02 x} instead of {@code 2 x}). */
    private static Value wrongSquare(Value x) {
        Tensor out = Elementwise.map(x.data(), v -> v * v);
        return Value.result("wrongSquare", out, g -> x.accumulate(g.mul(x.data().scale(2.02))), x);
    }

    @Test
    void wrongGradientIsDetected() {
        AssertionError e = assertThrows(AssertionError.class, () -> GradCheck.assertGradients("wrongSquare",
                in -> wrongSquare(in[0]), 1, GradCheck.DEFAULT_TOLERANCE, Tensor.vector(0.5, -1.0, 2.0)));
        assertTrue(e.getMessage().contains("worst"), e.getMessage());
    }

    @Test
    void correctGradientIsFarInsideTheTolerance() {
        GradCheck.Report r = GradCheck.check(in -> Arithmetic.mul(in[0], in[0]), 1, Tensor.vector(0.5, -1.0, 2.0));
        assertTrue(r.worstError() < 1e-8, r.toString());
    }
}

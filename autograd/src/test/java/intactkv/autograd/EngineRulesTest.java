package intactkv.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** One small exact test per engine rule listed in the package documentation. */
class EngineRulesTest {
    @Test
    void rule1NothingIsRecordedUnderNoGradOrWithoutParams() {
        Value a = Value.param(Tensor.vector(1, 2));
        Value c = Value.constant(Tensor.vector(3, 4));
        assertTrue(Arithmetic.mul(a, c).requiresGrad());
        assertFalse(Arithmetic.mul(c, c).requiresGrad());
        try (GradMode.Scope s = GradMode.noGrad()) {
            Value y = Arithmetic.mul(a, c);
            assertFalse(y.requiresGrad());
            assertTrue(y.inputs().isEmpty(), "no graph kept under noGrad");
            assertArrayEquals(new double[] {3, 8}, y.data().data());
            try (GradMode.Scope inner = GradMode.noGrad()) {
                assertFalse(GradMode.enabled());
            }
            assertFalse(GradMode.enabled(), "nested scope restores the outer one");
        }
        assertTrue(GradMode.enabled());
    }

    @Test
    void rule2TopologicalOrderIsDeterministicInputsFirst() {
        Value a = Value.param(Tensor.scalar(2));
        Value b = Value.param(Tensor.scalar(3));
        Value m = Arithmetic.mul(a, b);
        Value s = Arithmetic.add(m, a);
        List<Value> order = s.topologicalOrder();
        assertEquals(List.of(a, b, m, s), order);
        assertEquals(order, s.topologicalOrder());
    }

    @Test
    void rule3FanOutSumsAndRepeatedBackwardAccumulates() {
        Value x = Value.param(Tensor.scalar(3));
        Value y = Arithmetic.mul(x, x); // x used twice: dy/dx = 2x
        y.backward();
        assertEquals(6.0, x.grad().item());
        Arithmetic.mul(x, x).backward();
        assertEquals(12.0, x.grad().item(), "second backward adds");
        x.zeroGrad();
        assertNull(x.grad());
    }

    @Test
    void rule4BroadcastGradientsAreSummedToTheSourceShape() {
        Value a = Value.param(Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3));
        Value b = Value.param(Tensor.vector(10, 20, 30));
        Value c = Value.param(Tensor.scalar(2));
        Arithmetic.mul(Arithmetic.add(a, b), c).backward(Tensor.ones(2, 3));
        assertArrayEquals(new double[] {4, 4, 4}, b.grad().data());
        assertEquals(21 + 2 * 60, c.grad().item()); // sum(a + b) = sum(a) + 2 sum(b)
        assertArrayEquals(new double[] {2, 2, 2, 2, 2, 2}, a.grad().data());
    }

    @Test
    void rule5BackwardOnNonScalarNeedsAnUpstreamGradient() {
        Value a = Value.param(Tensor.vector(1, 2));
        Value y = Arithmetic.scale(a, 3);
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("scale") && e.getMessage().contains("(2,)"), e.getMessage());
        IllegalArgumentException w = assertThrows(IllegalArgumentException.class, () -> y.backward(Tensor.ones(3)));
        assertTrue(w.getMessage().contains("(3,)") && w.getMessage().contains("(2,)"), w.getMessage());
        y.backward(Tensor.vector(1, -1));
        assertArrayEquals(new double[] {3, -3}, a.grad().data());
        assertThrows(IllegalStateException.class, () -> Value.constant(Tensor.scalar(1)).backward());
    }

    @Test
    void rule6DetachStopsGradients() {
        Value x = Value.param(Tensor.scalar(3));
        Value y = Arithmetic.add(Arithmetic.mul(x, x.detach()), x);
        y.backward();
        assertEquals(4.0, x.grad().item()); // d/dx (x * const(3) + x) = 4
        assertFalse(x.detach().requiresGrad());
    }

    @Test
    void leafGradientsDoNotAliasEachOther() {
        Value a = Value.param(Tensor.scalar(1));
        Value b = Value.param(Tensor.scalar(1));
        Arithmetic.add(a, b).backward();
        a.grad().data()[0] = 100; // an optimiser scaling a's gradient in place
        assertEquals(1.0, b.grad().item());
    }

    @Test
    void intermediateGradientsAreReleasedLeavesKept() {
        Value a = Value.param(Tensor.scalar(2));
        Value m = Arithmetic.scale(a, 3);
        Value y = Arithmetic.mul(m, m);
        y.backward();
        assertNull(m.grad());
        assertEquals(36.0, a.grad().item()); // d/da (3a)^2 = 18a
    }

    @Test
    void longChainsNeedNoRecursion() {
        Value x = Value.param(Tensor.scalar(1));
        Value y = x;
        for (int i = 0; i < 100_000; i++) {
            y = Arithmetic.addScalar(y, 1e-3);
        }
        y.backward();
        assertEquals(1.0, x.grad().item());
    }
}

package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class MasksAndInitTest {
    @Test
    void causalMaskWithPast() {
        Tensor m = Masks.causal(2, 1);
        double inf = Double.NEGATIVE_INFINITY;
        assertEquals(Shape.of(2, 3), m.shape());
        assertArrayEquals(new double[] {0, 0, inf, 0, 0, 0}, m.data());
        assertArrayEquals(new double[] {1, 1, 0, 1, 1, 1}, Masks.causalAllowed(2, 1).data());
        assertThrows(IllegalArgumentException.class, () -> Masks.causal(-1, 0));
    }

    @Test
    void seededInitIsReproducible() {
        Tensor a = Init.normal(new Random(42), 0.02, 3, 4);
        Tensor b = Init.normal(new Random(42), 0.02, 3, 4);
        assertArrayEquals(a.data(), b.data());
        Tensor u = Init.uniform(new Random(1), -2, 3, 1000);
        assertTrue(u.maxAbs() <= 3);
        assertTrue(Reduce.min(u, false).item() >= -2);
        assertThrows(IllegalArgumentException.class, () -> Init.uniform(new Random(1), 1, 1, 2));
    }

    @Test
    void requireFiniteNamesTensorAndIndex() {
        Tensor t = Tensor.zeros(2, 2);
        t.set(Double.NaN, 1, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Checks.requireFinite("layers.3.q_proj", t));
        assertTrue(e.getMessage().contains("layers.3.q_proj") && e.getMessage().contains("[1, 0]")
                && e.getMessage().contains("NaN"), e.getMessage());
        Checks.requireFinite("ok", Tensor.ones(3));
    }
}

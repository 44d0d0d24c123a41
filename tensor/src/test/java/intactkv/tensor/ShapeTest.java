package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapeTest {
    @Test
    void basicProperties() {
        Shape s = Shape.of(2, 3, 4);
        assertEquals(24, s.numel());
        assertEquals(3, s.rank());
        assertArrayEquals(new int[] {12, 4, 1}, s.strides());
        assertEquals(4, s.dim(-1));
        assertEquals("(2, 3, 4)", s.toString());
        assertEquals("(5,)", Shape.of(5).toString());
        assertEquals(1, Shape.scalar().numel());
        assertEquals(0, Shape.of(3, 0).numel());
        assertEquals(2, s.sizeBefore(1));
        assertEquals(4, s.sizeAfter(1));
        assertEquals(1, s.sizeBefore(0));
        assertEquals(1, s.sizeAfter(-1));
    }

    @Test
    void broadcastFollowsNumpyRules() {
        assertEquals(Shape.of(2, 3, 4), Shape.broadcast("t", Shape.of(2, 1, 4), Shape.of(3, 1)));
        assertEquals(Shape.of(5, 4), Shape.broadcast("t", Shape.of(4), Shape.of(5, 1)));
        assertEquals(Shape.of(2), Shape.broadcast("t", Shape.scalar(), Shape.of(2)));
    }

    @Test
    void broadcastErrorNamesOpAndBothShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Shape.broadcast("add", Shape.of(2, 3), Shape.of(4, 3)));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("(2, 3)")
                && e.getMessage().contains("(4, 3)"), e.getMessage());
    }

    @Test
    void badAxesAndDimsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Shape.of(2, 3).dim(2));
        assertTrue(e.getMessage().contains("(2, 3)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Shape.of(1 << 16, 1 << 16));
    }

    @Test
    void tensorReshapeInfersAndShares() {
        Tensor t = Tensor.arange(6);
        Tensor r = t.reshape(2, -1);
        assertEquals(Shape.of(2, 3), r.shape());
        r.set(42, 1, 2);
        assertEquals(42, t.get(5));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.reshape(4, -1));
        assertTrue(e.getMessage().contains("(6,)"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> r.get(2, 0));
        assertThrows(IllegalArgumentException.class, () -> r.item());
    }
}

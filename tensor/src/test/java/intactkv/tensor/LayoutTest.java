package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LayoutTest {
    @Test
    void transposeHandWorked() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor t = x.transpose(0, 1);
        assertEquals(Shape.of(3, 2), t.shape());
        assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, t.data());
    }

    @Test
    void permuteMatchesIndexDefinition() {
        Tensor x = Init.normal(new Random(2), 1, 2, 3, 4);
        int[] perm = {2, 0, 1};
        Tensor y = Layout.permute(x, perm);
        assertEquals(Shape.of(4, 2, 3), y.shape());
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 4; k++) {
                    assertEquals(x.get(i, j, k), y.get(k, i, j));
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Layout.permute(x, 0, 0, 1));
    }

    @Test
    void sliceConcatSplitRoundTrip() {
        Tensor x = Init.normal(new Random(5), 1, 2, 5, 3);
        Tensor a = Layout.slice(x, 1, 0, 2);
        Tensor b = Layout.slice(x, 1, 2, 5);
        assertEquals(Shape.of(2, 3, 3), b.shape());
        assertEquals(x.get(1, 3, 2), b.get(1, 1, 2));
        assertArrayEquals(x.data(), Layout.concat(1, a, b).data());
        Tensor[] parts = Layout.split(x, -1, 1, 2);
        assertArrayEquals(x.data(), Layout.concat(-1, parts).data());
        assertEquals(Shape.of(2, 0, 3), Layout.slice(x, 1, 3, 3).shape());
    }

    @Test
    void errorsNameShapes() {
        Tensor x = Tensor.zeros(2, 3);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> Layout.slice(x, 1, 1, 4));
        assertTrue(e.getMessage().contains("(2, 3)"), e.getMessage());
        IllegalArgumentException c = assertThrows(IllegalArgumentException.class,
                () -> Layout.concat(0, x, Tensor.zeros(2, 4)));
        assertTrue(c.getMessage().contains("(2, 4)") && c.getMessage().contains("(2, 3)"), c.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Layout.split(x, 1, 1, 1));
    }
}

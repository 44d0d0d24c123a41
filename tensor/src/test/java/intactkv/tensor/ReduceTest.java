package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ReduceTest {
    private final Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);

    @Test
    void handWorkedSumsMeansMax() {
        assertArrayEquals(new double[] {5, 7, 9}, Reduce.sum(x, false, 0).data());
        assertArrayEquals(new double[] {6, 15}, Reduce.sum(x, false, -1).data());
        assertEquals(Shape.of(2, 1), Reduce.sum(x, true, 1).shape());
        assertEquals(21, Reduce.sum(x, false).item());
        assertEquals(3.5, Reduce.mean(x, false).item());
        assertArrayEquals(new double[] {2, 5}, Reduce.mean(x, false, 1).data());
        assertArrayEquals(new double[] {4, 5, 6}, Reduce.max(x, false, 0).data());
        assertArrayEquals(new double[] {1, 4}, Reduce.min(x, false, 1).data());
        assertArrayEquals(new int[] {2, 2}, Reduce.argmaxLastAxis(x));
    }

    @Test
    void multipleAxesEqualSequentialReductions() {
        Tensor t = Init.normal(new Random(3), 1, 2, 3, 4, 5);
        Tensor both = Reduce.sum(t, false, 1, 3);
        Tensor seq = Reduce.sum(Reduce.sum(t, false, 3), false, 1);
        assertArrayEquals(seq.data(), both.data(), 0);
        assertEquals(Shape.of(2, 4), both.shape());
    }

    @Test
    void sumToIsTheAdjointOfBroadcasting() {
        Random rng = new Random(4);
        Tensor small = Init.normal(rng, 1, 3, 1);
        Tensor big = Init.normal(rng, 1, 2, 3, 4);
        // <broadcast(small), big> == <small, sumTo(big)>
        Tensor bcast = Elementwise.broadcastTo(small, big.shape());
        double lhs = Reduce.sum(bcast.mul(big), false).item();
        double rhs = Reduce.sum(small.mul(Reduce.sumTo(big, small.shape())), false).item();
        assertEquals(lhs, rhs, 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Reduce.sumTo(big, Shape.of(5)));
    }

    @Test
    void repeatedAxisIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Reduce.sum(x, false, 1, -1));
    }
}

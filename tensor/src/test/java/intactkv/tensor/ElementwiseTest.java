package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ElementwiseTest {
    @Test
    void handWorkedBroadcast() {
        Tensor a = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.vector(10, 20, 30);
        assertArrayEquals(new double[] {11, 22, 33, 14, 25, 36}, a.add(b).data());
        Tensor col = Tensor.of(new double[] {2, 3}, 2, 1);
        assertArrayEquals(new double[] {0.5, 1, 1.5, 4.0 / 3, 5.0 / 3, 2}, a.div(col).data(), 0);
        assertArrayEquals(new double[] {-9, -18, -27, -6, -15, -24}, a.sub(b).data());
    }

    /** Every broadcast pattern against a naive per-element evaluation by multi-index. */
    @Test
    void generalBroadcastMatchesNaive() {
        Random rng = new Random(1);
        int[][][] cases = {
            {{2, 1, 4}, {3, 1}}, {{1, 3, 1}, {2, 1, 5}}, {{4}, {3, 1}}, {{2, 3, 4}, {1}}, {{1}, {2, 2}},
            {{3, 1, 2, 1}, {4, 1, 5}}, {{2, 3, 4}, {2, 3, 1}}, {{5, 2, 3}, {2, 3}}, {{5, 2, 3}, {1, 2, 3}},
        };
        for (int[][] c : cases) {
            Tensor a = Init.normal(rng, 1, c[0]);
            Tensor b = Init.normal(rng, 1, c[1]);
            for (BinaryOp op : BinaryOp.values()) {
                Tensor z = Elementwise.binary(op, a, op == BinaryOp.POW ? Elementwise.map(b, Math::abs) : b);
                Tensor bb = op == BinaryOp.POW ? Elementwise.map(b, Math::abs) : b;
                for (int i = 0; i < z.numel(); i++) {
                    int[] idx = Checks.unravel(i, z.shape());
                    double expected = op.applyAsDouble(a.get(project(idx, a.shape())), bb.get(project(idx, bb.shape())));
                    assertEquals(expected, z.data()[i], 0.0, op + " " + a.shape() + " " + b.shape());
                }
            }
        }
    }

    private static int[] project(int[] idx, Shape s) {
        int[] out = new int[s.rank()];
        int shift = idx.length - s.rank();
        for (int i = 0; i < s.rank(); i++) {
            out[i] = s.dim(i) == 1 ? 0 : idx[i + shift];
        }
        return out;
    }

    @Test
    void whereSelectsAndBroadcasts() {
        Tensor cond = Tensor.vector(1, 0, 1);
        Tensor z = Elementwise.where(cond, Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3), Tensor.scalar(-1));
        assertArrayEquals(new double[] {1, -1, 3, 4, -1, 6}, z.data());
        assertEquals(Shape.of(2, 3), Elementwise.broadcastTo(Tensor.vector(1, 2, 3), Shape.of(2, 3)).shape());
    }
}

package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class IndexingTest {
    @Test
    void indexSelectAndItsAdjoint() {
        Tensor w = Tensor.of(new double[] {0, 1, 10, 11, 20, 21}, 3, 2);
        int[] ids = {2, 0, 2};
        assertArrayEquals(new double[] {20, 21, 0, 1, 20, 21}, Indexing.indexSelect(w, ids).data());
        Tensor dw = Tensor.zeros(3, 2);
        Indexing.indexAdd(dw, ids, Tensor.ones(3, 2));
        assertArrayEquals(new double[] {1, 1, 0, 0, 2, 2}, dw.data());
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> Indexing.indexSelect(w, new int[] {3}));
        assertTrue(e.getMessage().contains("index 3") && e.getMessage().contains("(3, 2)"), e.getMessage());
    }

    @Test
    void gatherHandWorkedAlongAxis1() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor g = Indexing.gather(x, 1, new int[] {2, 0, 1, 1}, Shape.of(2, 2));
        assertArrayEquals(new double[] {3, 1, 5, 5}, g.data());
    }

    /** {@code <gather(x), y> = <x, scatterAdd(0, y)>} for every axis. */
    @Test
    void scatterAddIsTheAdjointOfGather() {
        Random rng = new Random(7);
        Tensor x = Init.normal(rng, 1, 3, 4, 5);
        for (int axis = 0; axis < 3; axis++) {
            Shape is = x.shape().withDim(axis, 6);
            int[] index = new int[is.numel()];
            for (int i = 0; i < index.length; i++) {
                index[i] = rng.nextInt(x.dim(axis));
            }
            Tensor y = Init.normal(rng, 1, is.dims());
            double lhs = Reduce.sum(Indexing.gather(x, axis, index, is).mul(y), false).item();
            Tensor s = Tensor.zeros(x.shape());
            Indexing.scatterAdd(s, axis, index, is, y);
            double rhs = Reduce.sum(x.mul(s), false).item();
            assertEquals(lhs, rhs, 1e-12);
        }
    }

    @Test
    void toIndicesRejectsFractions() {
        assertArrayEquals(new int[] {1, 2}, Indexing.toIndices(Tensor.vector(1, 2)));
        assertThrows(IllegalArgumentException.class, () -> Indexing.toIndices(Tensor.vector(1.5)));
    }
}

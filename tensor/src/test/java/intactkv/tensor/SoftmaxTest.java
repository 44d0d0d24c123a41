package intactkv.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SoftmaxTest {
    @Test
    void handWorked() {
        Tensor s = Softmax.softmax(Tensor.vector(0, Math.log(3)), 0);
        assertArrayEquals(new double[] {0.25, 0.75}, s.data(), 1e-15);
        assertEquals(Math.log(4), Softmax.logSumExp(Tensor.vector(0, Math.log(3)), 0).item(), 1e-15);
    }

    @Test
    void stableForHugeLogits() {
        Tensor s = Softmax.softmax(Tensor.vector(1000, 1000 + Math.log(3)), 0);
        assertArrayEquals(new double[] {0.25, 0.75}, s.data(), 1e-12);
        Tensor ls = Softmax.logSoftmax(Tensor.vector(-1e4, 0), 0);
        assertEquals(-1e4, ls.data()[0], 1e-9);
        assertEquals(0, ls.data()[1], 1e-300);
    }

    @Test
    void maskedEntriesGetExactZero() {
        Tensor s = Softmax.softmax(Tensor.vector(1, Double.NEGATIVE_INFINITY, 2), 0);
        assertEquals(0.0, s.data()[1]);
        assertEquals(1.0, s.data()[0] + s.data()[2], 1e-15);
    }

    /** Against the naive formula on moderate inputs, along every axis. */
    @Test
    void matchesNaiveAlongEachAxis() {
        Tensor x = Init.normal(new Random(9), 2, 3, 4, 5);
        for (int axis = 0; axis < 3; axis++) {
            Tensor e = Elementwise.map(x, Math::exp);
            Tensor naive = e.div(Reduce.sum(e, true, axis));
            Tensor s = Softmax.softmax(x, axis);
            Tensor ls = Softmax.logSoftmax(x, axis);
            for (int i = 0; i < x.numel(); i++) {
                assertEquals(naive.data()[i], s.data()[i], 1e-15);
                assertEquals(Math.log(naive.data()[i]), ls.data()[i], 1e-13);
            }
            Tensor lse = Softmax.logSumExp(x, axis);
            Tensor naiveLse = Elementwise.map(Reduce.sum(e, true, axis), Math::log);
            assertArrayEquals(naiveLse.data(), lse.data(), 1e-13);
            assertTrue(lse.shape().dim(axis) == 1);
        }
    }
}

package intactkv.autograd;

import static intactkv.autograd.GradCheck.DEFAULT_TOLERANCE;
import static intactkv.autograd.GradCheck.assertGradients;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.tensor.Init;
import intactkv.tensor.Softmax;
import intactkv.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Finite-difference checks of the composites, plus their forward values against the tensor library. */
class CompositeGradientTest {
    private final Random rng = new Random(77);

    private Tensor normal(int... dims) {
        return Init.normal(rng, 1, dims);
    }

    @Test
    @ChecksGradientOf({"Functional.sigmoid", "Functional.silu"})
    void activations() {
        assertGradients("sigmoid", in -> Functional.sigmoid(in[0]), 1, DEFAULT_TOLERANCE, normal(3, 4));
        assertGradients("silu", in -> Functional.silu(in[0]), 2, DEFAULT_TOLERANCE, normal(2, 1, 5));
        // the fused SiLU against its composed definition a * sigmoid(a): values and gradients
        Tensor x = Tensor.vector(-30, -2.5, -0.1, 0, 0.3, 4, 35);
        Tensor g = Tensor.vector(1, -2, 3, 0.5, -1, 2, 1);
        Value fused = Value.param(x.copy());
        Value composed = Value.param(x.copy());
        Value yf = Functional.silu(fused);
        Value yc = Arithmetic.mul(composed, Functional.sigmoid(composed));
        // the two formulas round differently: a few ulps of values and gradients of order |G| <= 3
        assertArrayEquals(yc.data().data(), yf.data().data(), 1e-14);
        yf.backward(g);
        yc.backward(g);
        assertArrayEquals(composed.grad().data(), fused.grad().data(), 1e-14);
        Value v = Functional.silu(Value.constant(Tensor.vector(0, 1, -1)));
        assertArrayEquals(new double[] {0, 1 / (1 + Math.exp(-1)), -1 / (1 + Math.exp(1))}, v.data().data(), 1e-15);
    }

    @Test
    @ChecksGradientOf({"Functional.softmax", "Functional.logSoftmax"})
    void softmaxFamily() {
        Tensor x = normal(2, 3, 5);
        for (int axis = 0; axis < 3; axis++) {
            int ax = axis;
            assertGradients("softmax axis " + ax, in -> Functional.softmax(in[0], ax), 3 + ax, DEFAULT_TOLERANCE, x);
            assertGradients("logSoftmax axis " + ax, in -> Functional.logSoftmax(in[0], ax), 6 + ax,
                    DEFAULT_TOLERANCE, x);
            assertArrayEquals(Softmax.softmax(x, ax).data(), Functional.softmax(Value.constant(x), ax).data().data(),
                    1e-15);
            assertArrayEquals(Softmax.logSoftmax(x, ax).data(),
                    Functional.logSoftmax(Value.constant(x), ax).data().data(), 1e-14);
        }
        // the fused last-axis versions against the composed ones: values and gradients
        Tensor g = normal(2, 3, 5);
        for (boolean log : new boolean[] {false, true}) {
            Value pf = Value.param(x.copy());
            Value pc = Value.param(x.copy());
            Value yf = log ? Functional.logSoftmax(pf, -1) : Functional.softmax(pf, -1);
            Value yc = log ? Functional.logSoftmaxComposed(pc, -1) : Functional.softmaxComposed(pc, -1);
            assertArrayEquals(yc.data().data(), yf.data().data(), 1e-14);
            yf.backward(g);
            yc.backward(g);
            assertArrayEquals(pc.grad().data(), pf.grad().data(), 1e-14);
        }
        // with a causal -inf entry and huge logits
        Tensor masked = Tensor.of(new double[] {800, Double.NEGATIVE_INFINITY, 801, 0.3, 0.1, -0.2}, 2, 3);
        Value p = Value.param(masked);
        Value s = Functional.softmax(p, -1);
        s.backward(Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3));
        assertEquals(0.0, Math.abs(p.grad().get(0, 1)));
        assertEquals(0.0, p.grad().data()[0] + p.grad().data()[2] + p.grad().data()[1], 1e-12);
    }

    @Test
    @ChecksGradientOf("Functional.rmsNorm")
    void rmsNorm() {
        assertGradients("rmsNorm", in -> Functional.rmsNorm(in[0], in[1], 1e-5), 9, DEFAULT_TOLERANCE,
                normal(3, 6), normal(6));
        assertGradients("rmsNorm batched", in -> Functional.rmsNorm(in[0], in[1], 1e-6), 10, DEFAULT_TOLERANCE,
                normal(2, 1, 4), normal(4));
        Value y = Functional.rmsNorm(Value.constant(Tensor.vector(3, 4)), Value.constant(Tensor.vector(1, 2)), 0);
        double rms = Math.sqrt(12.5);
        assertArrayEquals(new double[] {3 / rms, 8 / rms}, y.data().data(), 1e-15);
    }

    @Test
    @ChecksGradientOf("Functional.rope")
    void rope() {
        int t = 3;
        int dh = 4;
        Tensor cos = Tensor.zeros(t, dh);
        Tensor sin = Tensor.zeros(t, dh);
        for (int pos = 0; pos < t; pos++) {
            for (int i = 0; i < dh; i++) {
                double theta = pos * Math.pow(10000, -2.0 * (i % (dh / 2)) / dh);
                cos.set(Math.cos(theta), pos, i);
                sin.set(Math.sin(theta), pos, i);
            }
        }
        assertGradients("rope", in -> Functional.rope(in[0], cos, sin), 11, DEFAULT_TOLERANCE, normal(2, t, dh));
        // position 1, pair (x0, x2) rotated by theta = 1: [x0 cos - x2 sin, ..., x2 cos + x0 sin, ...]
        Tensor x = Tensor.zeros(1, t, dh);
        x.set(1.0, 0, 1, 0);
        Value y = Functional.rope(Value.constant(x), cos, sin);
        assertEquals(Math.cos(1), y.data().get(0, 1, 0), 1e-15);
        assertEquals(Math.sin(1), y.data().get(0, 1, 2), 1e-15);
        assertThrows(IllegalArgumentException.class,
                () -> Functional.rope(Value.constant(Tensor.zeros(1, 3)), Tensor.zeros(1, 3), Tensor.zeros(1, 3)));
    }

    /**
     * The fused rope gives the composed form's values bit for bit, and the same gradient (two
     * terms per element, added in either order: the same bits), over (B, h, T, d_h) inputs of
     * several head sizes; tables of another shape take the composed path.
     */
    /**
     * The fused RMSNorm gives the composed form's values and gradients bit for bit, also when x
     * receives another gradient first (a residual connection, as in every decoder layer), since the
     * fused backward adds its three parts to x in the composed order.
     */
    @Test
    @ChecksGradientOf("Functional.rmsNormComposed")
    void fusedRmsNormIsBitIdenticalToTheComposedForm() {
        Random rng = new Random(41);
        for (int[] c : new int[][] {{2, 5, 16}, {3, 1}, {1, 7, 128}, {2, 2, 3, 6}}) {
            int d = c[c.length - 1];
            Tensor x = Init.normal(rng, 2.0, c);
            Tensor w = Init.normal(rng, 1.0, d);
            Tensor g = Init.normal(rng, 1.0, c);
            Value[] fused = {Value.param(x.copy()), Value.param(w.copy())};
            Value[] ref = {Value.param(x.copy()), Value.param(w.copy())};
            Value hf = Arithmetic.add(Arithmetic.mul(fused[0], fused[0]), Functional.rmsNorm(fused[0], fused[1], 1e-5));
            Value hr = Arithmetic.add(Arithmetic.mul(ref[0], ref[0]), Functional.rmsNormComposed(ref[0], ref[1], 1e-5));
            String name = java.util.Arrays.toString(c);
            assertArrayEquals(hr.data().data(), hf.data().data(), 0.0, name);
            hf.backward(g);
            hr.backward(g);
            assertArrayEquals(ref[0].grad().data(), fused[0].grad().data(), 0.0, name + " dx");
            assertArrayEquals(ref[1].grad().data(), fused[1].grad().data(), 0.0, name + " dw");
        }
        assertGradients("rmsNormComposed", in -> Functional.rmsNormComposed(in[0], in[1], 1e-5), 13,
                DEFAULT_TOLERANCE, normal(2, 3, 4), normal(4));
    }

    @Test
    @ChecksGradientOf("Functional.ropeComposed")
    void fusedRopeIsBitIdenticalToTheComposedForm() {
        Random rng = new Random(31);
        for (int[] c : new int[][] {{2, 3, 5, 4}, {1, 2, 7, 16}, {2, 1, 1, 2}, {1, 4, 9, 32}}) {
            int t = c[2];
            int dh = c[3];
            Tensor cos = Init.normal(rng, 1.0, t, dh);
            Tensor sin = Init.normal(rng, 1.0, t, dh);
            Tensor x = Init.normal(rng, 3.0, c);
            Tensor g = Init.normal(rng, 1.0, c);
            Value a = Value.param(x.copy());
            Value b = Value.param(x.copy());
            Value fused = Functional.rope(a, cos, sin);
            Value composed = Functional.ropeComposed(b, cos, sin);
            String name = java.util.Arrays.toString(c);
            assertArrayEquals(composed.data().data(), fused.data().data(), 0.0, name);
            fused.backward(g);
            composed.backward(g);
            assertArrayEquals(b.grad().data(), a.grad().data(), 0.0, name + " gradient");
        }
        Tensor cos = Init.normal(new Random(4), 1.0, 3, 4);
        assertGradients("ropeComposed", in -> Functional.ropeComposed(in[0], cos, cos), 12, DEFAULT_TOLERANCE,
                normal(2, 3, 4));
        // a table of one row broadcasts over T: the composed path, the same values as a full table
        Tensor row = Tensor.of(new double[] {0.5, -1, 2, 0.25}, 1, 4);
        Tensor x = Init.normal(new Random(3), 1.0, 1, 3, 4);
        Tensor full = Tensor.zeros(3, 4);
        for (int p = 0; p < 3; p++) {
            for (int i = 0; i < 4; i++) {
                full.set(row.get(0, i), p, i);
            }
        }
        assertArrayEquals(Functional.rope(Value.constant(x), full, full).data().data(),
                Functional.rope(Value.constant(x), row, row).data().data(), 0.0);
    }

    @Test
    @ChecksGradientOf("Functional.crossEntropy")
    void crossEntropy() {
        int[] targets = {2, 0, Functional.IGNORE_INDEX, 4};
        assertGradients("crossEntropy", in -> Functional.crossEntropy(in[0], targets), 12, DEFAULT_TOLERANCE,
                normal(4, 5));
        // uniform logits: loss is log V
        Value l = Functional.crossEntropy(Value.constant(Tensor.zeros(2, 8)), new int[] {3, 5});
        assertEquals(Math.log(8), l.item(), 1e-15);
        assertThrows(IndexOutOfBoundsException.class,
                () -> Functional.crossEntropy(Value.constant(Tensor.zeros(1, 3)), new int[] {3}));
        assertThrows(IllegalArgumentException.class, () -> Functional.crossEntropy(Value.constant(Tensor.zeros(1, 3)),
                new int[] {Functional.IGNORE_INDEX}));
    }

    @Test
    @ChecksGradientOf({"Functional.mse", "Functional.sum"})
    void mseAndSum() {
        assertGradients("mse", in -> Functional.mse(in[0], in[1]), 13, DEFAULT_TOLERANCE, normal(3, 4), normal(3, 4));
        assertGradients("sum of terms", in -> Functional.sum(Functional.mse(in[0], in[1]), Reductions.sum(in[0], false)),
                14, DEFAULT_TOLERANCE, normal(2, 2), normal(2, 2));
        assertEquals(2.5, Functional.mse(Value.constant(Tensor.vector(1, 2)), Value.constant(Tensor.vector(0, 4))).item());
    }
}

package intactkv.autograd;

import static intactkv.autograd.GradCheck.DEFAULT_TOLERANCE;
import static intactkv.autograd.GradCheck.assertGradients;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Init;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.util.Random;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks of every primitive, over shapes with size-1 axes, broadcasting,
 * and inputs that first pass through a view (transpose or slice) of the parameter.
 */
class PrimitiveGradientTest {
    private final Random rng = new Random(2024);

    /** Shape pairs for binary ops: equal, broadcast both ways, size-1 axes, scalar. */
    private static final int[][][] BINARY_SHAPES = {
        {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{3, 1}, {1, 5}}, {{1}, {2, 3}}, {{1, 1}, {1, 1}}, {{}, {3}},
    };

    private Tensor normal(int... dims) {
        return Init.normal(rng, 1, dims);
    }

    /** Values in [0.5, 2): keeps log, sqrt, rsqrt, pow and division well conditioned. */
    private Tensor positive(int... dims) {
        return Init.uniform(rng, 0.5, 2.0, dims);
    }

    private void binary(String name, BinaryOperator<Value> op, boolean positiveRight) {
        long seed = 1;
        for (int[][] s : BINARY_SHAPES) {
            Tensor a = normal(s[0]);
            Tensor b = positiveRight ? positive(s[1]) : normal(s[1]);
            assertGradients(name + " " + a.shape() + " " + b.shape(), in -> op.apply(in[0], in[1]), seed++,
                    DEFAULT_TOLERANCE, a, b);
        }
        // through views: a transposed and b sliced before the op
        Tensor a = normal(4, 3);
        Tensor b = positiveRight ? positive(3, 6) : normal(3, 6);
        assertGradients(name + " on views", in -> op.apply(Shaping.transpose(in[0], 0, 1),
                Shaping.slice(in[1], 1, 1, 5)), seed, DEFAULT_TOLERANCE, a, b);
    }

    private void unary(String name, UnaryOperator<Value> op, boolean positiveInput) {
        long seed = 10;
        for (int[] s : new int[][] {{5}, {2, 1, 3}, {1}, {}}) {
            Tensor a = positiveInput ? positive(s) : normal(s);
            assertGradients(name + " " + a.shape(), in -> op.apply(in[0]), seed++, DEFAULT_TOLERANCE, a);
        }
        Tensor a = positiveInput ? positive(3, 4) : normal(3, 4);
        assertGradients(name + " on a view", in -> op.apply(Shaping.transpose(in[0], 0, 1)), seed,
                DEFAULT_TOLERANCE, a);
    }

    @Test
    @ChecksGradientOf("Arithmetic.add")
    void add() {
        binary("add", Arithmetic::add, false);
    }

    @Test
    @ChecksGradientOf("Arithmetic.sub")
    void sub() {
        binary("sub", Arithmetic::sub, false);
    }

    @Test
    @ChecksGradientOf("Arithmetic.mul")
    void mul() {
        binary("mul", Arithmetic::mul, false);
    }

    @Test
    @ChecksGradientOf("Arithmetic.div")
    void div() {
        binary("div", Arithmetic::div, true);
    }

    @Test
    @ChecksGradientOf({"Arithmetic.neg", "Arithmetic.scale", "Arithmetic.addScalar", "Arithmetic.pow"})
    void scalarArithmetic() {
        unary("neg", Arithmetic::neg, false);
        unary("scale", a -> Arithmetic.scale(a, -2.5), false);
        unary("addScalar", a -> Arithmetic.addScalar(a, 0.7), false);
        unary("pow 3", a -> Arithmetic.pow(a, 3), false);
        unary("pow -1.5", a -> Arithmetic.pow(a, -1.5), true);
    }

    @Test
    @ChecksGradientOf({"Pointwise.exp", "Pointwise.log", "Pointwise.sqrt", "Pointwise.rsqrt"})
    void pointwise() {
        unary("exp", Pointwise::exp, false);
        unary("log", Pointwise::log, true);
        unary("sqrt", Pointwise::sqrt, true);
        unary("rsqrt", Pointwise::rsqrt, true);
    }

    @Test
    @ChecksGradientOf({"Reductions.sum", "Reductions.mean"})
    void reductions() {
        Tensor x = normal(2, 3, 4);
        long seed = 20;
        for (boolean keep : new boolean[] {false, true}) {
            for (int[] axes : new int[][] {{}, {0}, {-1}, {0, 2}, {1}}) {
                assertGradients("sum", in -> Reductions.sum(in[0], keep, axes), seed++, DEFAULT_TOLERANCE, x);
                assertGradients("mean", in -> Reductions.mean(in[0], keep, axes), seed++, DEFAULT_TOLERANCE, x);
            }
        }
        assertGradients("sum of size-1 axis", in -> Reductions.sum(in[0], false, 1), seed++, DEFAULT_TOLERANCE,
                normal(3, 1, 2));
        assertGradients("mean on a view", in -> Reductions.mean(Shaping.transpose(in[0], 0, 2), true, 0), seed,
                DEFAULT_TOLERANCE, x);
    }

    @Test
    @ChecksGradientOf({"LinearAlgebra.matmul", "LinearAlgebra.matmulTransB", "LinearAlgebra.linear"})
    void matrixProducts() {
        long seed = 30;
        int[][][] shapes = {{{3, 4}, {4, 5}}, {{1, 1}, {1, 1}}, {{2, 3, 4}, {4, 2}}, {{2, 1, 3, 4}, {3, 4, 1}},
            {{1, 4}, {4, 7}}};
        for (int[][] s : shapes) {
            Tensor a = normal(s[0]);
            Tensor b = normal(s[1]);
            assertGradients("matmul " + a.shape() + b.shape(), in -> LinearAlgebra.matmul(in[0], in[1]), seed++,
                    DEFAULT_TOLERANCE, a, b);
            int[] bt = s[1].clone();
            bt[bt.length - 1] = s[1][s[1].length - 2];
            bt[bt.length - 2] = s[1][s[1].length - 1];
            Tensor b2 = normal(bt);
            assertGradients("matmulTransB " + a.shape() + b2.shape(),
                    in -> LinearAlgebra.matmulTransB(in[0], in[1]), seed++, DEFAULT_TOLERANCE, a, b2);
        }
        assertGradients("linear", in -> LinearAlgebra.linear(in[0], in[1]), seed++, DEFAULT_TOLERANCE,
                normal(2, 3, 4), normal(5, 4));
        assertGradients("linear, one token", in -> LinearAlgebra.linear(in[0], in[1]), seed++, DEFAULT_TOLERANCE,
                normal(1, 4), normal(1, 4));
        assertGradients("matmul on views", in -> LinearAlgebra.matmul(Shaping.transpose(in[0], 0, 1),
                Shaping.slice(in[1], 0, 1, 5)), seed, DEFAULT_TOLERANCE, normal(4, 2), normal(5, 3));
    }

    @Test
    @ChecksGradientOf({"Shaping.reshape", "Shaping.transpose", "Shaping.permute", "Shaping.slice",
        "Shaping.concat"})
    void shaping() {
        Tensor x = normal(2, 3, 4);
        long seed = 40;
        assertGradients("reshape", in -> Shaping.reshape(in[0], 4, -1), seed++, DEFAULT_TOLERANCE, x);
        assertGradients("transpose", in -> Shaping.transpose(in[0], 0, 2), seed++, DEFAULT_TOLERANCE, x);
        assertGradients("permute", in -> Shaping.permute(in[0], 1, 2, 0), seed++, DEFAULT_TOLERANCE, x);
        assertGradients("slice", in -> Shaping.slice(in[0], 1, 1, 3), seed++, DEFAULT_TOLERANCE, x);
        assertGradients("slice size 1", in -> Shaping.slice(in[0], -1, 3, 4), seed++, DEFAULT_TOLERANCE, x);
        assertGradients("concat", in -> Shaping.concat(1, in[0], in[1], in[0]), seed++, DEFAULT_TOLERANCE,
                x, normal(2, 1, 4));
        assertGradients("concat of views", in -> Shaping.concat(0, Shaping.transpose(in[0], 0, 1), in[1]), seed,
                DEFAULT_TOLERANCE, normal(3, 2), normal(1, 3));
    }

    @Test
    @ChecksGradientOf({"Selection.where", "Selection.embedding", "Selection.gather"})
    void selection() {
        long seed = 50;
        Tensor cond = Tensor.of(new double[] {1, 0, 0, 1}, 4);
        assertGradients("where", in -> Selection.where(cond, in[0], in[1]), seed++, DEFAULT_TOLERANCE,
                normal(3, 4), normal(1));
        // repeated ids accumulate into the same row
        assertGradients("embedding", in -> Selection.embedding(in[0], new int[] {2, 0, 2, 3}), seed++,
                DEFAULT_TOLERANCE, normal(5, 3));
        assertGradients("gather axis 1", in -> Selection.gather(in[0], 1, new int[] {0, 0, 3, 1, 2, 2},
                Shape.of(2, 3)), seed++, DEFAULT_TOLERANCE, normal(2, 4));
        assertGradients("gather axis 0 of a view", in -> Selection.gather(Shaping.transpose(in[0], 0, 1), 0,
                new int[] {1, 0, 1}, Shape.of(1, 3)), seed, DEFAULT_TOLERANCE, normal(3, 2));
    }

    /** The clamp away from its bounds, by finite differences; the bounds themselves in QuantOpsTest. */
    @Test
    @ChecksGradientOf("QuantOps.clamp")
    void clampAwayFromBounds() {
        Tensor x = Elementwise.map(normal(4, 5), v -> Math.abs(Math.abs(v) - 0.5) < 1e-3 ? v + 0.01 : v);
        assertGradients("clamp", in -> QuantOps.clamp(in[0], -0.5, 0.5), 60, DEFAULT_TOLERANCE, x);
    }
}

package intactkv.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.tensor.HalfFloat;
import intactkv.tensor.Shape;
import intactkv.tensor.Softmax;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Agreement with PyTorch (float64) on the fixtures of {@code tools/oracle/foundation_fixtures.py}:
 * outputs and input gradients of every op case, FP16/BF16 rounding, and AdamW/SGD
 * trajectories with gradient clipping and a warm-up schedule.
 *
 * <p>Tolerance: {@code |java - torch| <= 1e-12 * max|torch|} per tensor (relative to the
 * tensor's scale, so entries near zero are not held to an impossible relative bound). Both
 * sides compute in double; differences come only from summation order (about
 * {@code K * 2^-53} for a K-term sum) and libm, far below 1e-12 at these sizes.
 */
class TorchOracleTest {
    private static final double REL = 1e-12;
    private static Map<String, OracleFixtures.Case> cases;

    @BeforeAll
    static void load() throws IOException {
        cases = OracleFixtures.load("/oracle/foundation.txt");
    }

    private static Tensor rope(Value x, boolean cosTable) {
        int t = x.shape().dim(-2);
        int dh = x.shape().dim(-1);
        Tensor table = Tensor.zeros(t, dh);
        for (int p = 0; p < t; p++) {
            for (int i = 0; i < dh; i++) {
                double invFreq = 1.0 / Math.pow(10000.0, (double) (2 * (i % (dh / 2))) / dh);
                double angle = p * invFreq;
                table.set(cosTable ? Math.cos(angle) : Math.sin(angle), p, i);
            }
        }
        return table;
    }

    /** The Java side of each op case: inputs and the case's integer arguments to the output. */
    private static Map<String, BiFunction<Value[], OracleFixtures.Case, Value>> ops() {
        return Map.ofEntries(
            Map.entry("add_broadcast", (v, c) -> Arithmetic.add(v[0], v[1])),
            Map.entry("sub", (v, c) -> Arithmetic.sub(v[0], v[1])),
            Map.entry("mul_broadcast", (v, c) -> Arithmetic.mul(v[0], v[1])),
            Map.entry("div", (v, c) -> Arithmetic.div(v[0], v[1])),
            Map.entry("exp", (v, c) -> Pointwise.exp(v[0])),
            Map.entry("log", (v, c) -> Pointwise.log(v[0])),
            Map.entry("sqrt", (v, c) -> Pointwise.sqrt(v[0])),
            Map.entry("rsqrt", (v, c) -> Pointwise.rsqrt(v[0])),
            Map.entry("pow3", (v, c) -> Arithmetic.pow(v[0], 3)),
            Map.entry("sum_axis1_keep", (v, c) -> Reductions.sum(v[0], true, 1)),
            Map.entry("mean_axes02", (v, c) -> Reductions.mean(v[0], false, 0, 2)),
            Map.entry("matmul", (v, c) -> LinearAlgebra.matmul(v[0], v[1])),
            Map.entry("matmul_batched_broadcast", (v, c) -> LinearAlgebra.matmul(v[0], v[1])),
            Map.entry("matmul_transb", (v, c) -> LinearAlgebra.matmulTransB(v[0], v[1])),
            Map.entry("linear", (v, c) -> LinearAlgebra.linear(v[0], v[1])),
            Map.entry("transpose", (v, c) -> Shaping.transpose(v[0], 0, 2)),
            Map.entry("permute", (v, c) -> Shaping.permute(v[0], 1, 2, 0)),
            Map.entry("slice", (v, c) -> Shaping.slice(v[0], 1, 1, 3)),
            Map.entry("concat", (v, c) -> Shaping.concat(1, v[0], v[1])),
            Map.entry("softmax", (v, c) -> Functional.softmax(v[0], -1)),
            Map.entry("log_softmax", (v, c) -> Functional.logSoftmax(v[0], -1)),
            Map.entry("logsumexp", (v, c) -> logSumExp(v[0])),
            Map.entry("softmax_axis0", (v, c) -> Functional.softmax(v[0], 0)),
            Map.entry("silu", (v, c) -> Functional.silu(v[0])),
            Map.entry("sigmoid", (v, c) -> Functional.sigmoid(v[0])),
            Map.entry("rms_norm", (v, c) -> Functional.rmsNorm(v[0], v[1], 1e-6)),
            Map.entry("rope", (v, c) -> Functional.rope(v[0], rope(v[0], true), rope(v[0], false))),
            Map.entry("embedding", (v, c) -> Selection.embedding(v[0], c.ints().get("ids"))),
            Map.entry("gather_axis1", (v, c) -> Selection.gather(v[0], 1, c.ints().get("index"), Shape.of(2, 3))),
            Map.entry("cross_entropy", (v, c) -> Functional.crossEntropy(v[0], c.ints().get("targets"))),
            Map.entry("mse", (v, c) -> Functional.mse(v[0], v[1])),
            Map.entry("where", (v, c) -> Selection.where(
                    Tensor.of(java.util.Arrays.stream(c.ints().get("cond")).asDoubleStream().toArray(), 4), v[0], v[1])),
            Map.entry("clamp", (v, c) -> QuantOps.clamp(v[0], -0.5, 0.5)),
            Map.entry("round_ste", (v, c) -> QuantOps.roundSte(v[0])));
    }

    /** logsumexp composed from primitives: {@code x - log_softmax(x)} is constant along the axis; take column 0. */
    private static Value logSumExp(Value x) {
        return Shaping.slice(Arithmetic.sub(x, Functional.logSoftmax(x, -1)), -1, 0, 1);
    }

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.shape(), actual.shape(), what + ": shape");
        double scale = Math.max(expected.maxAbs(), Double.MIN_NORMAL);
        double worst = 0;
        for (int i = 0; i < expected.numel(); i++) {
            worst = Math.max(worst, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        assertTrue(worst <= REL * scale, what + ": max |java - torch| = " + worst + " > " + REL + " * " + scale);
    }

    @TestFactory
    List<DynamicTest> opsAgreeWithTorch() {
        List<DynamicTest> tests = new ArrayList<>();
        Map<String, BiFunction<Value[], OracleFixtures.Case, Value>> ops = ops();
        for (OracleFixtures.Case c : cases.values()) {
            if (!c.tensors().containsKey("G")) {
                continue;
            }
            BiFunction<Value[], OracleFixtures.Case, Value> op = ops.get(c.name());
            tests.add(DynamicTest.dynamicTest(c.name(), () -> {
                assertTrue(op != null, "fixture case " + c.name() + " has no Java counterpart");
                List<Value> in = new ArrayList<>();
                for (int i = 0; c.tensors().containsKey("in" + i); i++) {
                    in.add(Value.param(c.t("in" + i).copy()));
                }
                Value out = op.apply(in.toArray(new Value[0]), c);
                assertClose(c.name() + " output", c.t("out"), out.data());
                out.backward(c.t("G"));
                for (int i = 0; i < in.size(); i++) {
                    Tensor g = in.get(i).grad() == null ? Tensor.zeros(in.get(i).shape()) : in.get(i).grad();
                    assertClose(c.name() + " grad" + i, c.t("grad" + i), g);
                }
            }));
        }
        assertEquals(ops().size(), tests.size(), "every Java op case has a fixture");
        return tests;
    }

    @Test
    void logSumExpOfTensorLibraryMatchesTorch() {
        OracleFixtures.Case c = cases.get("logsumexp");
        assertClose("Softmax.logSumExp", c.t("out"), Softmax.logSumExp(c.t("in0"), -1));
    }

    @Test
    void halfPrecisionRoundingMatchesTorchExactly() {
        OracleFixtures.Case c = cases.get("half_rounding");
        Tensor x = c.t("x");
        Tensor fp16 = HalfFloat.round(x, HalfFloat.Format.FP16);
        Tensor bf16 = HalfFloat.round(x, HalfFloat.Format.BF16);
        for (int i = 0; i < x.numel(); i++) {
            assertEquals(c.t("fp16").data()[i], fp16.data()[i], 0.0, "fp16 of " + x.data()[i]);
            assertEquals(c.t("bf16").data()[i], bf16.data()[i], 0.0, "bf16 of " + x.data()[i]);
        }
    }

    /** Replays the fixture's 30-step regression with the Java engine and optimiser. */
    private static void replay(OracleFixtures.Case c, Function<List<Parameter>, java.util.function.IntConsumer> stepper) {
        Parameter w = new Parameter("w", Value.param(c.t("w0").copy()));
        Parameter b = new Parameter("b", Value.param(c.t("b0").copy()));
        List<Parameter> params = List.of(w, b);
        java.util.function.IntConsumer step = stepper.apply(params);
        Value x = Value.constant(c.t("x"));
        Value y = Value.constant(c.t("y"));
        double[] losses = new double[30];
        double[] norms = new double[30];
        for (int s = 0; s < 30; s++) {
            Parameter.zeroGrad(params);
            Value loss = Functional.mse(Arithmetic.add(LinearAlgebra.linear(x, w.value()), b.value()), y);
            loss.backward();
            norms[s] = GradClip.clipGradNorm(params, 0.5);
            step.accept(s);
            losses[s] = loss.item();
        }
        assertClose(c.name() + " losses", c.t("losses"), Tensor.vector(losses));
        assertClose(c.name() + " grad norms", c.t("norms"), Tensor.vector(norms));
        assertClose(c.name() + " final w", c.t("w"), w.value().data());
        assertClose(c.name() + " final b", c.t("b"), b.value().data());
    }

    @Test
    void adamWTrajectoryMatchesTorch() {
        replay(cases.get("traj_adamw"), params -> {
            AdamW opt = new AdamW(params, new AdamW.Config(0.9, 0.95, 1e-8, 0.1));
            LrSchedule lr = LrSchedule.constantWithWarmup(0.05, 5);
            return s -> opt.step(lr.lr(s));
        });
    }

    @Test
    void sgdTrajectoryMatchesTorch() {
        replay(cases.get("traj_sgd"), params -> {
            Sgd opt = new Sgd(params, new Sgd.Config(0.9, 0, 0.01, false));
            return s -> opt.step(0.05);
        });
    }
}

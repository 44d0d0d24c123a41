package intactkv.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class OptimizerTest {
    private static Parameter param(String name, double... v) {
        return new Parameter(name, Value.param(Tensor.vector(v)));
    }

    private static void setGrad(Parameter p, double... g) {
        p.value().zeroGrad();
        p.value().accumulate(Tensor.vector(g));
    }

    @Test
    void adamWFirstStepHandWorked() {
        Parameter p = param("w", 1.0);
        setGrad(p, 0.5);
        new AdamW(List.of(p), new AdamW.Config(0.9, 0.999, 1e-8, 0.01)).step(0.1);
        // p*(1 - 0.1*0.01) = 0.999; m = 0.05, v = 0.00025; step_size = 1; denom = 0.5 + 1e-8
        assertEquals(0.999 - 0.05 / (0.5 + 1e-8), p.value().data().item(), 1e-15);
    }

    /** Against the textbook form {@code m_hat / (sqrt(v_hat) + eps)} over a 50-step trajectory. */
    @Test
    void adamWMatchesTextbookFormulation() {
        Random rng = new Random(5);
        Parameter p = new Parameter("w", Value.param(Init.normal(rng, 1, 6)));
        double[] ref = p.value().data().data().clone();
        double[] m = new double[6];
        double[] v = new double[6];
        AdamW opt = new AdamW(List.of(p), new AdamW.Config(0.8, 0.95, 1e-6, 0.1));
        for (int t = 1; t <= 50; t++) {
            double[] g = Init.normal(rng, 1, 6).data();
            setGrad(p, g);
            double lr = 0.01 * t;
            opt.step(lr);
            for (int i = 0; i < 6; i++) {
                ref[i] -= lr * 0.1 * ref[i];
                m[i] = 0.8 * m[i] + 0.2 * g[i];
                v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
                double mHat = m[i] / (1 - Math.pow(0.8, t));
                double vHat = v[i] / (1 - Math.pow(0.95, t));
                ref[i] -= lr * mHat / (Math.sqrt(vHat) + 1e-6);
            }
        }
        assertArrayEquals(ref, p.value().data().data(), 1e-12);
        assertEquals(50, opt.stepCount(p));
    }

    @Test
    void adamWSkipsParamsWithoutGradAndValidates() {
        Parameter p = param("w", 1.0);
        AdamW opt = new AdamW(List.of(p), AdamW.Config.defaults());
        opt.step(0.1);
        assertEquals(1.0, p.value().data().item());
        assertEquals(0, opt.stepCount(p));
        assertThrows(IllegalArgumentException.class, () -> new AdamW.Config(1.0, 0.9, 1e-8, 0));
        assertThrows(IllegalArgumentException.class, () -> opt.step(-1));
    }

    /**
     * Per-parameter weight decay (PyTorch's parameter groups): each parameter follows exactly the trajectory
     * of a one-parameter AdamW with its own decay, over 20 steps; the hand-worked first step of a group
     * without decay; a negative decay refused by the parameter's name.
     */
    @Test
    void adamWPerParameterDecayIsParameterGroups() {
        Random rng = new Random(8);
        Parameter a = new Parameter("a.q_proj.weight", Value.param(Init.normal(rng, 1, 5)));
        Parameter b = new Parameter("b.mlp.weight", Value.param(Init.normal(rng, 1, 5)));
        Parameter a1 = new Parameter("a", Value.param(a.value().data().copy()));
        Parameter b1 = new Parameter("b", Value.param(b.value().data().copy()));
        AdamW.Config c = new AdamW.Config(0.9, 0.95, 1e-8, 0.5);
        AdamW grouped = new AdamW(List.of(a, b), c, p -> p.name().contains("q_proj") ? 0.0 : 0.5);
        AdamW aloneA = new AdamW(List.of(a1), c.withWeightDecay(0.0));
        AdamW aloneB = new AdamW(List.of(b1), c);
        assertEquals(0.0, grouped.weightDecay(0));
        assertEquals(0.5, grouped.weightDecay(1));
        for (int t = 0; t < 20; t++) {
            double[] ga = Init.normal(rng, 1, 5).data();
            double[] gb = Init.normal(rng, 1, 5).data();
            setGrad(a, ga);
            setGrad(a1, ga);
            setGrad(b, gb);
            setGrad(b1, gb);
            grouped.step(0.05);
            aloneA.step(0.05);
            aloneB.step(0.05);
        }
        // the same arithmetic in the same order: bit-identical
        assertArrayEquals(a1.value().data().data(), a.value().data().data(), 0.0);
        assertArrayEquals(b1.value().data().data(), b.value().data().data(), 0.0);

        Parameter p = param("w", 1.0);
        setGrad(p, 0.5);
        new AdamW(List.of(p), new AdamW.Config(0.9, 0.999, 1e-8, 0.01), q -> 0.0).step(0.1);
        // no decay: m = 0.05, v = 0.00025; step_size = 1; denom = 0.5 + 1e-8
        assertEquals(1.0 - 0.05 / (0.5 + 1e-8), p.value().data().item(), 1e-15);

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AdamW(List.of(a, b), c, q -> q == b ? -1.0 : 0.0));
        assertEquals("AdamW: weight decay of 'b.mlp.weight' must be >= 0, got -1.0", e.getMessage());
    }

    @Test
    void sgdMomentumHandWorked() {
        Parameter p = param("w", 1.0);
        Sgd opt = new Sgd(List.of(p), new Sgd.Config(0.9, 0, 0, false));
        setGrad(p, 1.0);
        opt.step(0.1); // buf = 1, p = 0.9
        setGrad(p, 1.0);
        opt.step(0.1); // buf = 1.9, p = 0.71
        assertEquals(0.71, p.value().data().item(), 1e-15);
        Parameter q = param("q", 1.0);
        Sgd nesterov = new Sgd(List.of(q), new Sgd.Config(0.5, 0, 0.1, true));
        setGrad(q, 1.0);
        nesterov.step(1.0); // d = 1.1, buf = 1.1, d = 1.1 + 0.55 = 1.65
        assertEquals(1 - 1.65, q.value().data().item(), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> new Sgd.Config(0, 0, 0, true));
    }

    @Test
    void clipGradNormHandWorked() {
        Parameter a = param("a", 0, 0);
        Parameter b = param("b", 0);
        Parameter none = param("none", 0);
        setGrad(a, 3, 0);
        setGrad(b, 4);
        double total = GradClip.clipGradNorm(List.of(a, b, none), 1.0);
        assertEquals(5.0, total);
        double coef = 1.0 / (5.0 + 1e-6);
        assertArrayEquals(new double[] {3 * coef, 0}, a.value().grad().data(), 1e-15);
        assertEquals(4 * coef, b.value().grad().item(), 1e-15);
        // under the limit: unchanged
        setGrad(a, 0.3, 0.4);
        b.value().zeroGrad();
        assertEquals(0.5, GradClip.clipGradNorm(List.of(a, b), 1.0), 1e-15);
        assertArrayEquals(new double[] {0.3, 0.4}, a.value().grad().data());
        assertThrows(IllegalArgumentException.class, () -> GradClip.clipGradNorm(List.of(a), 0));
    }

    @Test
    void schedulesMatchHuggingFaceDefinitions() {
        LrSchedule c = LrSchedule.constantWithWarmup(2e-4, 5);
        assertEquals(0.0, c.lr(0));
        assertEquals(2e-4 * 3 / 5, c.lr(3), 1e-20);
        assertEquals(2e-4, c.lr(5));
        assertEquals(2e-4, c.lr(159));
        LrSchedule cos = LrSchedule.cosineWithWarmup(1.0, 10, 110);
        assertEquals(0.5, cos.lr(5), 1e-15);
        assertEquals(1.0, cos.lr(10), 1e-15);
        assertEquals(0.5, cos.lr(60), 1e-15);
        assertEquals(0.0, cos.lr(110), 1e-15);
        // past the end HF keeps following the cosine (no clamp of progress)
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 1.9)), cos.lr(200), 1e-15);
        assertEquals(3.0, LrSchedule.constant(3.0).lr(7));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosineWithWarmup(1, 10, 5));
    }

    @Test
    void trainingATinyRegressionConverges() {
        // y = 2x - 1 fitted by AdamW through the engine: end-to-end sanity of ops + optimiser
        Random rng = new Random(8);
        Tensor x = Init.normal(rng, 1, 32, 1);
        Tensor y = x.scale(2).add(Tensor.scalar(-1));
        Parameter w = new Parameter("w", Value.param(Tensor.zeros(1, 1)));
        Parameter b = new Parameter("b", Value.param(Tensor.zeros(1)));
        AdamW opt = new AdamW(List.of(w, b), AdamW.Config.defaults().withWeightDecay(0));
        for (int step = 0; step < 500; step++) {
            opt.zeroGrad();
            Value pred = Arithmetic.add(LinearAlgebra.linear(Value.constant(x), w.value()), b.value());
            Functional.mse(pred, Value.constant(y)).backward();
            opt.step(0.05);
        }
        assertEquals(2.0, w.value().data().item(), 1e-3);
        assertEquals(-1.0, b.value().data().item(), 1e-3);
    }
}

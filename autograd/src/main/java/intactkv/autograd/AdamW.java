package intactkv.autograd;

import intactkv.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * AdamW exactly as {@code torch.optim.AdamW} ({@code _single_tensor_adamw}, PyTorch 1.13-2.x):
 * for each parameter {@code p} with gradient {@code g}, at step {@code t = 1, 2, ...}
 * <pre>
 *   p   = p * (1 - lr * wd)                              decoupled weight decay
 *   m   = beta1 * m + (1 - beta1) * g
 *   v   = beta2 * v + (1 - beta2) * g * g
 *   step_size = lr / (1 - beta1^t)
 *   denom     = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   p   = p - step_size * m / denom
 * </pre>
 * Parameters without a gradient are skipped (their step count does not advance), as in PyTorch.
 *
 * <p>A per-parameter weight decay ({@link #AdamW(List, Config, ToDoubleFunction)}) is PyTorch's parameter
 * groups, {@code AdamW([{"params": qk, "weight_decay": 0.0}, {"params": rest}], weight_decay=wd)}: the
 * update of each parameter is the one above with its own {@code wd}.
 */
public final class AdamW {
    /** Hyper-parameters, validated; defaults as PyTorch's. */
    public record Config(double beta1, double beta2, double eps, double weightDecay) {
        public Config {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("AdamW: betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
            }
            if (!(eps >= 0) || !(weightDecay >= 0)) {
                throw new IllegalArgumentException("AdamW: eps and weight decay must be >= 0, got eps = " + eps
                        + ", weight decay = " + weightDecay);
            }
        }

        /** {@code torch.optim.AdamW} defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
        public static Config defaults() {
            return new Config(0.9, 0.999, 1e-8, 0.01);
        }

        public Config withWeightDecay(double wd) {
            return new Config(beta1, beta2, eps, wd);
        }
    }

    private static final class State {
        final double[] m;
        final double[] v;
        int step;

        State(int n) {
            m = new double[n];
            v = new double[n];
        }
    }

    private final List<Parameter> params;
    private final Config config;
    private final double[] decayOf;
    private final Map<Value, State> state = new IdentityHashMap<>();

    /** All parameters decayed by {@code config.weightDecay()}. */
    public AdamW(List<Parameter> params, Config config) {
        this(params, config, p -> config.weightDecay());
    }

    /**
     * Parameter {@code p} decayed by {@code weightDecay.applyAsDouble(p)} (evaluated once, here) instead of
     * {@code config.weightDecay()}; each value must be >= 0.
     */
    public AdamW(List<Parameter> params, Config config, ToDoubleFunction<Parameter> weightDecay) {
        this.params = List.copyOf(params);
        this.config = config;
        this.decayOf = new double[this.params.size()];
        for (int i = 0; i < decayOf.length; i++) {
            Parameter p = this.params.get(i);
            decayOf[i] = weightDecay.applyAsDouble(p);
            if (!(decayOf[i] >= 0)) {
                throw new IllegalArgumentException("AdamW: weight decay of '" + p.name() + "' must be >= 0, got "
                        + decayOf[i]);
            }
        }
    }

    /** The weight decay applied to {@code params().get(i)}. */
    public double weightDecay(int i) {
        return decayOf[i];
    }

    public List<Parameter> params() {
        return params;
    }

    /** Applies one update with learning rate {@code lr}; parameters are <em>modified</em>. */
    public void step(double lr) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("AdamW: learning rate must be >= 0, got " + lr);
        }
        double b1 = config.beta1();
        double b2 = config.beta2();
        for (int pi = 0; pi < params.size(); pi++) {
            Parameter param = params.get(pi);
            Tensor grad = param.value().grad();
            if (grad == null) {
                continue;
            }
            double[] p = param.value().data().data();
            double[] g = grad.data();
            State s = state.computeIfAbsent(param.value(), k -> new State(p.length));
            s.step++;
            double decay = 1 - lr * decayOf[pi];
            double stepSize = lr / (1 - Math.pow(b1, s.step));
            double bc2Sqrt = Math.sqrt(1 - Math.pow(b2, s.step));
            for (int i = 0; i < p.length; i++) {
                p[i] *= decay;
                s.m[i] = s.m[i] * b1 + (1 - b1) * g[i];
                s.v[i] = s.v[i] * b2 + (1 - b2) * g[i] * g[i];
                double denom = Math.sqrt(s.v[i]) / bc2Sqrt + config.eps();
                p[i] += -stepSize * s.m[i] / denom;
            }
        }
    }

    /** Clears the gradients of all parameters. */
    public void zeroGrad() {
        Parameter.zeroGrad(params);
    }

    /** Number of updates applied to {@code param} so far (0 if none). */
    public int stepCount(Parameter param) {
        State s = state.get(param.value());
        return s == null ? 0 : s.step;
    }

    /** First and second moment buffers of {@code param} (copies), for checkpoints; null before its first step. */
    public double[][] moments(Parameter param) {
        State s = state.get(param.value());
        return s == null ? null : new double[][] {s.m.clone(), s.v.clone()};
    }

    /** Restores the moments and step count of {@code param} (for resuming from a checkpoint). */
    public void restore(Parameter param, double[] m, double[] v, int step) {
        int n = param.value().data().numel();
        if (m.length != n || v.length != n || step < 0) {
            throw new IllegalArgumentException("AdamW.restore: state for '" + param.name() + "' has " + m.length
                    + "/" + v.length + " entries and step " + step + ", parameter has " + n + " entries");
        }
        State s = new State(n);
        System.arraycopy(m, 0, s.m, 0, n);
        System.arraycopy(v, 0, s.v, 0, n);
        s.step = step;
        state.put(param.value(), s);
    }
}

package intactkv.autograd;

import intactkv.tensor.Tensor;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * SGD with momentum exactly as {@code torch.optim.SGD}:
 * <pre>
 *   d = g + wd * p
 *   b = d                              (first step)
 *   b = momentum * b + (1 - dampening) * d    (later steps)
 *   d = nesterov ? d + momentum * b : b     (when momentum != 0)
 *   p = p - lr * d
 * </pre>
 */
public final class Sgd {
    /** Hyper-parameters, validated. */
    public record Config(double momentum, double dampening, double weightDecay, boolean nesterov) {
        public Config {
            if (!(momentum >= 0) || !(dampening >= 0) || !(weightDecay >= 0)) {
                throw new IllegalArgumentException("SGD: momentum, dampening and weight decay must be >= 0, got "
                        + momentum + ", " + dampening + ", " + weightDecay);
            }
            if (nesterov && (momentum <= 0 || dampening != 0)) {
                throw new IllegalArgumentException("SGD: Nesterov momentum requires momentum > 0 and zero dampening");
            }
        }
    }

    private final List<Parameter> params;
    private final Config config;
    private final Map<Value, double[]> buffers = new IdentityHashMap<>();

    public Sgd(List<Parameter> params, Config config) {
        this.params = List.copyOf(params);
        this.config = config;
    }

    /** Applies one update with learning rate {@code lr}; parameters are <em>modified</em>. */
    public void step(double lr) {
        for (Parameter param : params) {
            Tensor grad = param.value().grad();
            if (grad == null) {
                continue;
            }
            double[] p = param.value().data().data();
            double[] g = grad.data();
            double[] d = new double[p.length];
            for (int i = 0; i < p.length; i++) {
                d[i] = config.weightDecay() != 0 ? g[i] + config.weightDecay() * p[i] : g[i];
            }
            if (config.momentum() != 0) {
                double[] b = buffers.get(param.value());
                if (b == null) {
                    b = d.clone();
                    buffers.put(param.value(), b);
                } else {
                    for (int i = 0; i < p.length; i++) {
                        b[i] = b[i] * config.momentum() + (1 - config.dampening()) * d[i];
                    }
                }
                for (int i = 0; i < p.length; i++) {
                    d[i] = config.nesterov() ? d[i] + config.momentum() * b[i] : b[i];
                }
            }
            for (int i = 0; i < p.length; i++) {
                p[i] += -lr * d[i];
            }
        }
    }
}

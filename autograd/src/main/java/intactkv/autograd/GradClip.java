package intactkv.autograd;

import intactkv.tensor.Tensor;
import java.util.List;

/**
 * Global gradient-norm clipping, as {@code torch.nn.utils.clip_grad_norm_} (norm type 2):
 * <pre>
 *   total = sqrt(sum over params of ||grad||_2^2)
 *   coef  = min(1, maxNorm / (total + 1e-6));   every grad *= coef
 * </pre>
 */
public final class GradClip {
    private GradClip() {
    }

    /**
     * Scales the gradients of {@code params} in place (<em>modified</em>) so that their global
     * 2-norm is at most about {@code maxNorm}; returns the norm before clipping. Parameters
     * without a gradient are skipped.
     */
    public static double clipGradNorm(List<Parameter> params, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("clipGradNorm: maxNorm must be > 0, got " + maxNorm);
        }
        double sumSq = 0;
        for (Parameter p : params) {
            Tensor g = p.value().grad();
            if (g != null) {
                double n = 0;
                for (double v : g.data()) {
                    n += v * v;
                }
                // PyTorch takes the norm of the per-parameter norms.
                double pn = Math.sqrt(n);
                sumSq += pn * pn;
            }
        }
        double total = Math.sqrt(sumSq);
        double coef = Math.min(1.0, maxNorm / (total + 1e-6));
        if (coef < 1.0) {
            for (Parameter p : params) {
                Tensor g = p.value().grad();
                if (g != null) {
                    double[] d = g.data();
                    for (int i = 0; i < d.length; i++) {
                        d[i] *= coef;
                    }
                }
            }
        }
        return total;
    }
}

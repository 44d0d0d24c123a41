package intactkv.autograd;

import intactkv.tensor.Elementwise;
import intactkv.tensor.Reduce;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;

/**
 * The composite functions the model and the training losses need, built from the primitives
 * of this package so that their gradients follow from the primitives' (tinygrad's approach).
 * The exceptions, fused for speed, are {@link #silu} and {@link #softmax} / {@link #logSoftmax}
 * along the last axis; each gradient is tested against its composed form. Shapes use the glossary of {@link intactkv.tensor}.
 */
public final class Functional {
    private Functional() {
    }

    /** {@code sigmoid(a) = 1 / (1 + exp(-a))}. */
    public static Value sigmoid(Value a) {
        Value one = Value.constant(Tensor.scalar(1.0));
        return Arithmetic.div(one, Arithmetic.addScalar(Pointwise.exp(Arithmetic.neg(a)), 1.0));
    }

    /**
     * {@code silu(a) = a * sigmoid(a)}, the SwiGLU gate activation (HF {@code ACT2FN["silu"]}).
     * Fused for speed (the MLP applies it to every (T, d_ff) activation); with
     * {@code s = sigmoid(a)}: {@code dL/da = G * s * (1 + a (1 - s))}. Its gradient is tested
     * against the composed {@code mul(a, sigmoid(a))}.
     */
    public static Value silu(Value a) {
        double[] x = a.data().data();
        double[] s = new double[x.length];
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            s[i] = 1.0 / (1.0 + Math.exp(-x[i]));
            y[i] = x[i] * s[i];
        }
        return Value.result("silu", Tensor.wrap(y, a.shape()), g -> {
            double[] gd = g.data();
            double[] dx = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                dx[i] = gd[i] * s[i] * (1.0 + x[i] * (1.0 - s[i]));
            }
            a.accumulate(Tensor.wrap(dx, a.shape()));
        }, a);
    }

    /**
     * Softmax along {@code axis}. Along the last axis it is fused for speed (attention applies
     * it to every (T, T) score matrix): with {@code s = softmax(a)},
     * {@code dL/da = s * (G - sum(G * s))} per row; its gradient is tested against the composed
     * form {@link #softmaxComposed}. Other axes use the composed form.
     */
    public static Value softmax(Value a, int axis) {
        int ax = a.shape().normalizeAxis(axis);
        if (ax != a.shape().rank() - 1) {
            return softmaxComposed(a, axis);
        }
        Tensor s = intactkv.tensor.Softmax.softmax(a.data(), -1);
        return Value.result("softmax", s, g -> {
            int n = s.dim(-1);
            double[] sd = s.data();
            double[] gd = g.data();
            double[] dx = new double[sd.length];
            for (int r = 0; r < sd.length; r += n) {
                double dot = 0;
                for (int j = r; j < r + n; j++) {
                    dot += gd[j] * sd[j];
                }
                for (int j = r; j < r + n; j++) {
                    dx[j] = sd[j] * (gd[j] - dot);
                }
            }
            a.accumulate(Tensor.wrap(dx, a.shape()));
        }, a);
    }

    /**
     * Softmax from primitives: {@code e = exp(a - m)}, {@code e / sum(e)}. The shift
     * {@code m = max(a)} is a stop-gradient constant: softmax is invariant to it, so its
     * gradient contribution is exactly zero.
     */
    static Value softmaxComposed(Value a, int axis) {
        Value shifted = Arithmetic.sub(a, Value.constant(stableShift(a.data(), axis)));
        Value e = Pointwise.exp(shifted);
        return Arithmetic.div(e, Reductions.sum(e, true, axis));
    }

    /**
     * Log-softmax along {@code axis}; fused along the last axis ({@code dL/da = G - softmax(a) sum(G)}
     * per row, tested against {@link #logSoftmaxComposed}), composed otherwise.
     */
    public static Value logSoftmax(Value a, int axis) {
        int ax = a.shape().normalizeAxis(axis);
        if (ax != a.shape().rank() - 1) {
            return logSoftmaxComposed(a, axis);
        }
        Tensor ls = intactkv.tensor.Softmax.logSoftmax(a.data(), -1);
        return Value.result("logSoftmax", ls, g -> {
            int n = ls.dim(-1);
            double[] l = ls.data();
            double[] gd = g.data();
            double[] dx = new double[l.length];
            for (int r = 0; r < l.length; r += n) {
                double sum = 0;
                for (int j = r; j < r + n; j++) {
                    sum += gd[j];
                }
                for (int j = r; j < r + n; j++) {
                    dx[j] = gd[j] - Math.exp(l[j]) * sum;
                }
            }
            a.accumulate(Tensor.wrap(dx, a.shape()));
        }, a);
    }

    /** Log-softmax from primitives: {@code z - log(sum(exp(z)))} with {@code z = a - stopgrad(max a)}. */
    static Value logSoftmaxComposed(Value a, int axis) {
        Value z = Arithmetic.sub(a, Value.constant(stableShift(a.data(), axis)));
        return Arithmetic.sub(z, Pointwise.log(Reductions.sum(Pointwise.exp(z), true, axis)));
    }

    /** The per-row maximum (kept axis), with fully masked rows ({@code -inf}) shifted by 0. */
    private static Tensor stableShift(Tensor a, int axis) {
        return Elementwise.map(Reduce.max(a, true, axis), m -> Double.isInfinite(m) ? 0.0 : m);
    }

    /**
     * RMSNorm over the last axis, as HF {@code LlamaRMSNorm}:
     * {@code y = x * rsqrt(mean(x^2) + eps) * weight}; x (..., d), weight (d).
     *
     * <p>Fused, backward beside it, with every rounding of the composed form
     * ({@link #rmsNormComposed}: six ops and their tensors), so values and gradients are bit for bit
     * the same (tested). Per row, {@code inv = 1 / sqrt((sum_j x_j x_j) / d + eps)} (the sum in
     * order from 0) and {@code y_j = (x_j inv) w_j}. Backward, with {@code G'_j = G_j w_j}:
     * {@code dw = sum over rows of G_j (x_j inv)}; {@code dinv = sum_j G'_j x_j};
     * {@code dms = dinv ((-0.5 inv) inv) inv}; {@code dx_j} receives {@code G'_j inv}, then
     * {@code (dms (1/d)) x_j} twice (once per operand of {@code x * x}), as three accumulations in the
     * composed form's order, so that other gradients reaching x add up the same way.
     */
    public static Value rmsNorm(Value x, Value weight, double eps) {
        int d = x.shape().dim(-1);
        if (weight.shape().rank() != 1 || weight.shape().dim(0) != d) {
            return rmsNormComposed(x, weight, eps); // a weight that broadcasts otherwise
        }
        double[] xd = x.data().data();
        double[] w = weight.data().data();
        int rows = d == 0 ? 0 : xd.length / d;
        double[] inv = new double[rows];
        double[] y = new double[xd.length];
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            double sum = 0.0;
            for (int j = o; j < o + d; j++) {
                sum = sum + xd[j] * xd[j];
            }
            double ms = sum / d;
            inv[r] = 1.0 / Math.sqrt(ms + eps);
            for (int j = o; j < o + d; j++) {
                y[j] = xd[j] * inv[r] * w[j - o];
            }
        }
        return Value.result("rmsNorm", Tensor.wrap(y, x.shape()), g -> {
            double[] gd = g.data();
            if (weight.requiresGrad()) {
                double[] gw = new double[xd.length];
                for (int r = 0; r < rows; r++) {
                    for (int j = r * d; j < (r + 1) * d; j++) {
                        gw[j] = gd[j] * (xd[j] * inv[r]);
                    }
                }
                weight.accumulateBroadcast(Tensor.wrap(gw, x.shape()));
            }
            if (!x.requiresGrad()) {
                return;
            }
            double[] direct = new double[xd.length];
            double[] viaMean = new double[xd.length];
            double scale = 1.0 / d;
            for (int r = 0; r < rows; r++) {
                int o = r * d;
                double dinv = 0.0;
                for (int j = o; j < o + d; j++) {
                    double gn = gd[j] * w[j - o];
                    direct[j] = gn * inv[r];
                    dinv = dinv + gn * xd[j];
                }
                double c = inv[r];
                double dms = dinv * (-0.5 * c * c * c);
                double dsq = dms * scale;
                for (int j = o; j < o + d; j++) {
                    viaMean[j] = dsq * xd[j];
                }
            }
            x.accumulate(Tensor.wrap(direct, x.shape()));
            Tensor t = Tensor.wrap(viaMean, x.shape());
            x.accumulate(t);
            x.accumulate(t);
        }, x, weight);
    }

    /** {@link #rmsNorm} composed from primitives: its definition, and the oracle of the fused form. */
    public static Value rmsNormComposed(Value x, Value weight, double eps) {
        Value ms = Reductions.mean(Arithmetic.mul(x, x), true, -1);
        Value inv = Pointwise.rsqrt(Arithmetic.addScalar(ms, eps));
        return Arithmetic.mul(Arithmetic.mul(x, inv), weight);
    }

    /**
     * Rotary position embedding in HF's {@code rotate_half} convention
     * ({@code apply_rotary_pos_emb}): {@code y = x * cos + rotate_half(x) * sin} with
     * {@code rotate_half([x1, x2]) = [-x2, x1]} on the two halves of the last axis. x is
     * (..., T, d_h); cos and sin are constants of shape (T, d_h).
     *
     * <p>Fused, with the backward beside it: for h = d_h / 2, element i of a row is
     * {@code x_i cos_i + (-x_{i+h}) sin_i} for i < h and {@code x_i cos_i + x_{i-h} sin_i} for
     * i >= h, each product rounded, then the sum: the roundings of the composed form
     * ({@link #ropeComposed}: two slices, a negation, a concatenation, two products and a sum, each
     * a tensor), so the values are bit for bit the same (tested). The gradient is
     * {@code dx_i = G_i cos_i + G_{i+h} sin_{i+h}} for i < h and
     * {@code dx_i = G_i cos_i - G_{i-h} sin_{i-h}} for i >= h.
     */
    public static Value rope(Value x, Tensor cos, Tensor sin) {
        int dh = x.shape().dim(-1);
        if (dh % 2 != 0) {
            throw new IllegalArgumentException("rope: head dimension must be even, got shape " + x.shape());
        }
        int rank = x.shape().rank();
        int t = rank >= 2 ? x.shape().dim(-2) : -1;
        if (rank < 2 || cos.shape().rank() != 2 || cos.dim(0) != t || cos.dim(1) != dh || !cos.shape().equals(sin.shape())) {
            return ropeComposed(x, cos, sin); // tables that broadcast otherwise
        }
        int h = dh / 2;
        double[] xd = x.data().data();
        double[] c = cos.data();
        double[] sn = sin.data();
        double[] y = new double[xd.length];
        for (int r = 0; r < xd.length; r += dh) {
            int tab = (r / dh % t) * dh;
            for (int i = 0; i < h; i++) {
                y[r + i] = xd[r + i] * c[tab + i] + -xd[r + i + h] * sn[tab + i];
            }
            for (int i = h; i < dh; i++) {
                y[r + i] = xd[r + i] * c[tab + i] + xd[r + i - h] * sn[tab + i];
            }
        }
        return Value.result("rope", Tensor.wrap(y, x.shape()), g -> {
            double[] gd = g.data();
            double[] dx = new double[xd.length];
            for (int r = 0; r < xd.length; r += dh) {
                int tab = (r / dh % t) * dh;
                for (int i = 0; i < h; i++) {
                    dx[r + i] = gd[r + i] * c[tab + i] + gd[r + i + h] * sn[tab + i + h];
                }
                for (int i = h; i < dh; i++) {
                    dx[r + i] = gd[r + i] * c[tab + i] + -(gd[r + i - h] * sn[tab + i - h]);
                }
            }
            x.accumulate(Tensor.wrap(dx, x.shape()));
        }, x);
    }

    /** {@link #rope} composed from primitives: its definition, and the oracle of the fused form. */
    public static Value ropeComposed(Value x, Tensor cos, Tensor sin) {
        int dh = x.shape().dim(-1);
        Value x1 = Shaping.slice(x, -1, 0, dh / 2);
        Value x2 = Shaping.slice(x, -1, dh / 2, dh);
        Value rotated = Shaping.concat(-1, Arithmetic.neg(x2), x1);
        return Arithmetic.add(Arithmetic.mul(x, Value.constant(cos)),
                Arithmetic.mul(rotated, Value.constant(sin)));
    }

    /** Target value that {@link #crossEntropy} skips, as PyTorch's default {@code ignore_index}. */
    public static final int IGNORE_INDEX = -100;

    /**
     * Mean cross-entropy of {@code logits (N, V)} against class ids {@code targets (N)}, like
     * {@code torch.nn.functional.cross_entropy}: {@code -mean_i log_softmax(logits_i)[targets_i]}
     * over the rows whose target is not {@link #IGNORE_INDEX}.
     */
    public static Value crossEntropy(Value logits, int[] targets) {
        logits.shape().requireRank("crossEntropy (logits)", 2);
        int n = logits.shape().dim(0);
        int v = logits.shape().dim(1);
        if (targets.length != n) {
            throw new IllegalArgumentException("crossEntropy: " + targets.length + " targets for logits of shape "
                    + logits.shape());
        }
        int[] safe = new int[n];
        double[] keep = new double[n];
        int counted = 0;
        for (int i = 0; i < n; i++) {
            if (targets[i] == IGNORE_INDEX) {
                continue;
            }
            if (targets[i] < 0 || targets[i] >= v) {
                throw new IndexOutOfBoundsException("crossEntropy: target " + targets[i] + " at row " + i
                        + " out of range [0, " + v + ")");
            }
            safe[i] = targets[i];
            keep[i] = 1.0;
            counted++;
        }
        if (counted == 0) {
            throw new IllegalArgumentException("crossEntropy: every target is IGNORE_INDEX; nothing to average");
        }
        Value logp = logSoftmax(logits, -1);
        Value picked = Selection.gather(logp, 1, safe, Shape.of(n, 1));
        Value kept = Arithmetic.mul(picked, Value.constant(Tensor.wrap(keep, n, 1)));
        return Arithmetic.scale(Reductions.sum(kept, false), -1.0 / counted);
    }

    /** Mean squared error {@code mean((a - b)^2)} over all elements, like {@code F.mse_loss}. */
    public static Value mse(Value a, Value b) {
        Value d = Arithmetic.sub(a, b);
        return Reductions.mean(Arithmetic.mul(d, d), false);
    }

    /** Sum of several losses or terms (left to right). */
    public static Value sum(Value... terms) {
        if (terms.length == 0) {
            throw new IllegalArgumentException("sum: no terms");
        }
        Value acc = terms[0];
        for (int i = 1; i < terms.length; i++) {
            acc = Arithmetic.add(acc, terms[i]);
        }
        return acc;
    }
}

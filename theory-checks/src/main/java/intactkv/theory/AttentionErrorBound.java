package intactkv.theory;

import intactkv.tensor.Softmax;
import intactkv.tensor.Tensor;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.NormOps_DDRM;

/**
 * The attention-output error bound behind IntactKV: the project's formalisation of the paper's
 * claim, with its proof (also in {@code theory-checks/README.md}).
 *
 * <h2>Setting</h2>
 * One attention head with head dimension d: a query {@code q} (1 x d), a cache of n keys and
 * values {@code K, V} (n x d), attention {@code a = softmax(q K^T / sqrt d)} (1 x n) and output
 * {@code h = a V}. Quantization perturbs them: {@code q~ = q + dq}, {@code K~ = K + dK},
 * {@code V~ = V + dV}, giving {@code a~ = softmax(q~ K~^T / sqrt d)} and {@code h~ = a~ V~}.
 * Row i of dV is {@code dv_i}; {@code ||.||} is the Euclidean norm of a vector and
 * {@code ||.||_2} the spectral norm of a matrix.
 *
 * <h2>Theorem (bound B)</h2>
 * <pre>
 *   ||h~ - h|| <= sum_i a_i ||dv_i||
 *                 + (1 / (2 sqrt d)) (||V||_2 + ||dV||_2) (||q~|| ||dK||_2 + ||dq|| ||K||_2)
 * </pre>
 * <h2>Proof</h2>
 * <ol>
 *   <li>{@code h~ - h = a~ V~ - a V = a dV + (a~ - a) V~}.</li>
 *   <li>Triangle inequality, and {@code a_i >= 0}: {@code ||a dV|| <= sum_i a_i ||dv_i||}.</li>
 *   <li>{@code ||(a~ - a) V~|| <= ||a~ - a|| ||V~||_2 <= ||a~ - a|| (||V||_2 + ||dV||_2)}.</li>
 *   <li>The softmax Jacobian at z is {@code J = diag(s) - s s^T} with s = softmax(z). J is
 *       symmetric positive semi-definite (the covariance of a one-hot vector drawn with
 *       probabilities s), and by Gershgorin each eigenvalue is at most
 *       {@code max_i (s_i(1 - s_i) + s_i sum_{j != i} s_j) = max_i 2 s_i (1 - s_i) <= 1/2}. So
 *       {@code ||J||_2 <= 1/2} everywhere, and integrating J along the segment from z to z~:
 *       {@code ||softmax(z~) - softmax(z)|| <= (1/2) ||z~ - z||}.</li>
 *   <li>{@code z~ - z = (q~ K~^T - q K^T) / sqrt d = (q~ dK^T + dq K^T) / sqrt d}, so
 *       {@code ||z~ - z|| <= (||q~|| ||dK||_2 + ||dq|| ||K||_2) / sqrt d}.</li>
 *   <li>Steps 1-5 with the triangle inequality give B. QED.</li>
 * </ol>
 *
 * <h2>Corollary (IntactKV)</h2>
 * IntactKV keeps the first p rows of K and V exact: {@code dK} and {@code dV} have those rows
 * zero, nothing else changes (a is the full-precision attention; q~ and dq are the current
 * token's). Zeroing rows of a matrix multiplies it by a 0/1 diagonal matrix, which cannot raise
 * its spectral norm, and removes the terms {@code a_i ||dv_i||, i < p}. Hence
 * <b>B with IntactKV is never larger than B without</b>, for every p, and the first term drops
 * by exactly {@code sum_{i<p} a_i ||dv_i||}: most when the sink tokens carry the attention.
 *
 * <h2>Two further bounds</h2>
 * <ul>
 *   <li><b>Bound A</b> (the form of DESIGN.md section 4, from the other decomposition
 *       {@code h~ - h = a~ dV + (a~ - a) V}): {@code sum_i a~_i ||dv_i|| + (1/(2 sqrt d)) ||V||_2
 *       (||q|| ||dK||_2 + ||dq|| ||K~||_2)}. It holds by the same steps, but it weights the
 *       value errors by the perturbed attention a~, which itself changes when the prefix keys
 *       become exact, so it is not monotone in p in general; the report measures how often it
 *       falls.</li>
 *   <li><b>Tight bound T</b>: softmax ignores shifts of its input and {@code (a~ - a)} sums to 0,
 *       so {@code ||(a~ - a) V~|| <= (1/2) ||C(z~ - z)|| ||C V~||_2} with C the centring
 *       projection ({@code C x = x - mean(x)}, on V~ its rows' mean removed). Then
 *       {@code ||h~ - h|| <= sum_i a_i ||dv_i|| + (1/2) ||C(z~ - z)|| ||C V~||_2 <= B}, since a
 *       projection does not raise a norm. It uses the actual logit change, so it is tighter but
 *       again not monotone in p.</li>
 * </ul>
 */
public final class AttentionErrorBound {
    private AttentionErrorBound() {
    }

    /** A head and its perturbations; shapes q (d), K and V (n, d). */
    public record Head(double[] q, Tensor k, Tensor v, double[] dq, Tensor dk, Tensor dv) {
        public Head {
            int d = q.length;
            if (k.rank() != 2 || k.dim(1) != d || !k.shape().equals(v.shape()) || !k.shape().equals(dk.shape())
                    || !k.shape().equals(dv.shape()) || dq.length != d) {
                throw new IllegalArgumentException("head shapes: q (" + d + "), K " + k.shape() + ", V " + v.shape()
                        + ", dq (" + dq.length + "), dK " + dk.shape() + ", dV " + dv.shape());
            }
        }

        public int n() {
            return k.dim(0);
        }

        public int d() {
            return q.length;
        }

        /** The same head with the first p rows of dK and dV zero (IntactKV of size p). */
        public Head intact(int p) {
            if (p < 0 || p > n()) {
                throw new IllegalArgumentException("IntactKV size " + p + " outside 0.." + n());
            }
            Tensor dk2 = dk.copy();
            Tensor dv2 = dv.copy();
            java.util.Arrays.fill(dk2.data(), 0, p * d(), 0.0);
            java.util.Arrays.fill(dv2.data(), 0, p * d(), 0.0);
            return new Head(q, k, v, dq, dk2, dv2);
        }
    }

    /** Actual error and the three bounds of one head. */
    public record Evaluation(double actual, double boundB, double boundA, double boundT, double[] attention) {
    }

    /** Computes {@code ||h~ - h||} and the bounds B, A and T (class comment). */
    public static Evaluation evaluate(Head h) {
        int n = h.n();
        int d = h.d();
        double scale = 1 / Math.sqrt(d);
        Tensor kt = h.k().add(h.dk());
        Tensor vt = h.v().add(h.dv());
        double[] qt = add(h.q(), h.dq());
        double[] z = logits(h.q(), h.k(), scale);
        double[] zt = logits(qt, kt, scale);
        double[] a = Softmax.softmax(Tensor.vector(z), 0).data();
        double[] at = Softmax.softmax(Tensor.vector(zt), 0).data();
        double[] out = new double[d];
        double[] outT = new double[d];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < d; c++) {
                out[c] += a[i] * h.v().data()[i * d + c];
                outT[c] += at[i] * vt.data()[i * d + c];
            }
        }
        double actual = norm(add(outT, neg(out)));
        double sumA = 0;
        double sumAt = 0;
        for (int i = 0; i < n; i++) {
            double r = rowNorm(h.dv(), i);
            sumA += a[i] * r;
            sumAt += at[i] * r;
        }
        double vNorm = spectral(h.v());
        double dvNorm = spectral(h.dv());
        double dkNorm = spectral(h.dk());
        double kNorm = spectral(h.k());
        double boundB = sumA + 0.5 * scale * (vNorm + dvNorm) * (norm(qt) * dkNorm + norm(h.dq()) * kNorm);
        double boundA = sumAt + 0.5 * scale * vNorm * (norm(h.q()) * dkNorm + norm(h.dq()) * spectral(kt));
        double[] dz = add(zt, neg(z));
        double boundT = sumA + 0.5 * norm(center(dz)) * spectral(centerRows(vt));
        return new Evaluation(actual, boundB, boundA, boundT, a);
    }

    /** The spectral norm of the softmax Jacobian {@code diag(s) - s s^T} at {@code z}, with EJML. */
    public static double softmaxJacobianNorm(double[] z) {
        double[] s = Softmax.softmax(Tensor.vector(z), 0).data();
        int n = s.length;
        DMatrixRMaj j = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < n; k++) {
                j.set(i, k, (i == k ? s[i] : 0) - s[i] * s[k]);
            }
        }
        return NormOps_DDRM.normP2(j);
    }

    static double spectral(Tensor m) {
        if (m.maxAbs() == 0) {
            return 0;
        }
        return NormOps_DDRM.normP2(DMatrixRMaj.wrap(m.dim(0), m.dim(1), m.data().clone()));
    }

    private static double[] logits(double[] q, Tensor k, double scale) {
        int n = k.dim(0);
        int d = q.length;
        double[] z = new double[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < d; c++) {
                s += q[c] * k.data()[i * d + c];
            }
            z[i] = s * scale;
        }
        return z;
    }

    static double norm(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v * v;
        }
        return Math.sqrt(s);
    }

    private static double rowNorm(Tensor m, int i) {
        int d = m.dim(1);
        double s = 0;
        for (int c = 0; c < d; c++) {
            double v = m.data()[i * d + c];
            s += v * v;
        }
        return Math.sqrt(s);
    }

    private static double[] add(double[] a, double[] b) {
        double[] o = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            o[i] = a[i] + b[i];
        }
        return o;
    }

    private static double[] neg(double[] a) {
        double[] o = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            o[i] = -a[i];
        }
        return o;
    }

    private static double[] center(double[] x) {
        double m = 0;
        for (double v : x) {
            m += v / x.length;
        }
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = x[i] - m;
        }
        return o;
    }

    private static Tensor centerRows(Tensor v) {
        int n = v.dim(0);
        int d = v.dim(1);
        double[] mean = new double[d];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < d; c++) {
                mean[c] += v.data()[i * d + c] / n;
            }
        }
        double[] o = v.data().clone();
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < d; c++) {
                o[i * d + c] -= mean[c];
            }
        }
        return Tensor.wrap(o, n, d);
    }
}

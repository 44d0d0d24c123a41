package intactkv.theory;

import intactkv.quant.DynamicQuantizer;
import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Random;

/**
 * Random attention heads whose perturbations come from the project's own quantizers, for the
 * property tests and the theory report: K, V and q standard normal; K and V quantized per
 * token (one group per row) or group-wise along d_h, and q per token, at b bits. A "sink"
 * head has key 0 aligned with the query with a logit of {@code ln(n) + 2} (so it takes about
 * 80 % of the attention) and a value row 0 ten times larger, like the [BOS] token of a trained LLM.
 */
public final class RandomHeads {
    private RandomHeads() {
    }

    /**
     * @param n        cached tokens
     * @param d        head dimension
     * @param bits     quantizer bit width for K, V and q
     * @param grouped  group-wise (groups of the largest divisor of d up to 8) instead of per token
     * @param sink     make token 0 an attention sink
     * @param perturbQ quantize the query too
     */
    public static AttentionErrorBound.Head generate(int n, int d, int bits, boolean grouped, boolean sink,
                                                    boolean perturbQ, long seed) {
        Random rng = new Random(seed);
        Tensor k = Init.normal(rng, 1, n, d);
        Tensor v = Init.normal(rng, 1, n, d);
        double[] q = Init.normal(rng, 1, d).data();
        if (sink) {
            // key 0 along q with logit ln(n) + 2 (the others are about N(0, 1)): about 80 % of the attention
            double qn = AttentionErrorBound.norm(q);
            double logit = Math.log(n) + 2;
            for (int c = 0; c < d; c++) {
                k.data()[c] = logit * Math.sqrt(d) * q[c] / Math.max(qn * qn, 1e-12);
                v.data()[c] *= 10;
            }
        }
        int g = grouped ? largestDivisor(d, 8) : 0;
        DynamicQuantizer kv = new DynamicQuantizer(bits, false, 1.0, g);
        Tensor dk = kv.apply(k).sub(k);
        Tensor dv = kv.apply(v).sub(v);
        double[] dq = new double[d];
        if (perturbQ) {
            Tensor qt = Tensor.of(q, 1, d);
            dq = DynamicQuantizer.perToken(bits).apply(qt).sub(qt).data();
        }
        return new AttentionErrorBound.Head(q, k, v, dq, dk, dv);
    }

    static int largestDivisor(int d, int max) {
        for (int g = Math.min(d, max); g > 1; g--) {
            if (d % g == 0) {
                return g;
            }
        }
        return 1;
    }
}

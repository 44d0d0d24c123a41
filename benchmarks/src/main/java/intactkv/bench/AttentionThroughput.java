package intactkv.bench;

import intactkv.autograd.Attention;
import intactkv.autograd.Value;
import intactkv.tensor.Init;
import intactkv.tensor.Tensor;
import java.util.Locale;
import java.util.Random;

/**
 * The fused causal attention alone ({@link Attention#causal}), forward and backward, at the
 * built-in model's training shape: B 16, 8 heads, T 256, head size d_h (argument, default 16).
 * Best of 10 calls after 5 warm-up calls; GFLOP/s counts the multiply-adds of the causal
 * products (Q K^T and P V forward; dP, dQ, dK, dV backward), not the exponentials.
 */
public final class AttentionThroughput {
    private AttentionThroughput() {
    }

    public static void main(String[] args) {
        int b = 16;
        int h = 8;
        int t = 256;
        int dh = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        Random r = new Random(1);
        Tensor q = Init.normal(r, 1, b, h, t, dh);
        Tensor k = Init.normal(r, 1, b, h, t, dh);
        Tensor v = Init.normal(r, 1, b, h, t, dh);
        Tensor g = Init.normal(r, 1, b, h, t, dh);
        double forward = Double.POSITIVE_INFINITY;
        double backward = Double.POSITIVE_INFINITY;
        for (int it = 0; it < 15; it++) {
            Value[] in = {Value.param(q), Value.param(k), Value.param(v)};
            long t0 = System.nanoTime();
            Value o = Attention.causal(in[0], in[1], in[2]);
            long t1 = System.nanoTime();
            o.backward(g);
            long t2 = System.nanoTime();
            if (it >= 5) {
                forward = Math.min(forward, (t1 - t0) / 1e6);
                backward = Math.min(backward, (t2 - t1) / 1e6);
            }
        }
        double fma = (double) b * h * t * (t + 1) / 2 * dh;
        System.out.printf(Locale.ROOT, "attention B %d h %d T %d d_h %d: forward %.1f ms (%.1f GFLOP/s), backward %.1f ms"
                + " (%.1f GFLOP/s), %d threads%n", b, h, t, dh, forward, 4 * fma / forward / 1e6, backward,
                8 * fma / backward / 1e6, Runtime.getRuntime().availableProcessors());
    }
}

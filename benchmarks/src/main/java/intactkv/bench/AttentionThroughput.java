package intactkv.bench;

import intactkv.autograd.Attention;
import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.tensor.ElementDtype;
import intactkv.tensor.Init;
import intactkv.tensor.NarrowArray;
import intactkv.tensor.Tensor;
import java.util.Locale;
import java.util.Random;

/**
 * The fused causal attention alone ({@link Attention#causal}), forward and backward, at the
 * built-in model's training shape: B 16, 8 heads, T 256, head size d_h (argument, default 16).
 * Best of 10 calls after 5 warm-up calls; GFLOP/s counts the multiply-adds of the causal
 * products (Q K^T and P V forward; dP, dQ, dK, dV backward), not the exponentials. With {@code decode H_KV KEYS}:
 * one decoding step's attention per KV-cache format instead ({@link #decode}).
 */
public final class AttentionThroughput {
    private AttentionThroughput() {
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("decode")) {
            decode(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            return;
        }
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

    /**
     * {@code AttentionThroughput decode H_KV KEYS}: one decoding step's attention of one layer with 32 query heads of
     * d_h 128 (LLaMA-2-7B: H_KV 32; LLaMA-3-8B: 8) over a cache of KEYS positions in buffers with 16 spare rows, for
     * each format a KV cache can hold ({@code --kv-cache-dtype}: doubles, or F32, F16, BF16 widened a key/value head
     * at a time, {@link Attention#causalOutputOnRows(Value, NarrowArray, NarrowArray, intactkv.tensor.Shape, int)}).
     * The formats run in turn; best of 30 calls each after 10 warm-up rounds. Prints one JSON line: milliseconds a
     * layer per format, and the cache bytes read (K and V of KEYS positions).
     */
    static void decode(int hkv, int keys) {
        int h = 32;
        int dh = 128;
        int cap = keys + 16;
        Random r = new Random(1);
        Tensor q = Init.normal(r, 1, 1, h, 1, dh);
        Tensor k = Init.normal(r, 1, 1, hkv, cap, dh);
        Tensor v = Init.normal(r, 1, 1, hkv, cap, dh);
        ElementDtype[] formats = ElementDtype.values();
        NarrowArray[] nk = new NarrowArray[formats.length];
        NarrowArray[] nv = new NarrowArray[formats.length];
        for (int f = 1; f < formats.length; f++) {
            nk[f] = NarrowArray.zeros(formats[f], k.data().length);
            nk[f].write(k.data(), 0, 0, k.data().length);
            nv[f] = NarrowArray.zeros(formats[f], v.data().length);
            nv[f].write(v.data(), 0, 0, v.data().length);
        }
        double[] best = new double[formats.length];
        java.util.Arrays.fill(best, Double.POSITIVE_INFINITY);
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int it = 0; it < 40; it++) {
                for (int f = 0; f < formats.length; f++) {
                    long t0 = System.nanoTime();
                    if (f == 0) {
                        Attention.causalOutputOnRows(Value.constant(q), k, v, keys);
                    } else {
                        Attention.causalOutputOnRows(Value.constant(q), nk[f], nv[f], k.shape(), keys);
                    }
                    long t1 = System.nanoTime();
                    if (it >= 10) {
                        best[f] = Math.min(best[f], (t1 - t0) / 1e6);
                    }
                }
            }
        }
        StringBuilder ms = new StringBuilder();
        StringBuilder bytes = new StringBuilder();
        for (int f = 0; f < formats.length; f++) {
            ms.append(f == 0 ? "" : ", ").append(String.format(Locale.ROOT, "\"%s\": %.2f", formats[f].id(), best[f]));
            bytes.append(f == 0 ? "" : ", ").append(String.format(Locale.ROOT, "\"%s\": %d", formats[f].id(),
                    2L * keys * hkv * dh * formats[f].bytes()));
        }
        System.out.printf(Locale.ROOT, "{\"bench\": \"attention_decode\", \"h\": %d, \"h_kv\": %d, \"d_h\": %d,"
                + " \"keys\": %d, \"threads\": %d, \"ms_per_layer\": {%s}, \"cache_bytes_read\": {%s}}%n", h, hkv, dh,
                keys, Runtime.getRuntime().availableProcessors(), ms, bytes);
    }
}

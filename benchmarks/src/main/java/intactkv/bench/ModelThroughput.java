package intactkv.bench;

import intactkv.autograd.GradMode;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import java.util.Locale;

/**
 * Prefill and decode throughput of the LLaMA forward pass with random weights (a bench
 * command rather than JMH: one TinyLlama-sized prefill takes seconds). Prints one JSON line.
 * Run through {@code tools/bench/model.sh}, which measures PyTorch on the same shapes.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -Xmx14g -cp benchmarks/target/benchmarks.jar \
 *       intactkv.bench.ModelThroughput tinyllama 256 32 3
 * </pre>
 * Arguments: config ({@code 1m}, {@code 100m} or {@code tinyllama}), prompt length T, decode steps
 * (0: prefill only), repeats. The first round warms up the JIT on a prompt of at most 64 tokens
 * and is not timed (the same code paths; a full-length warm-up would double a TinyLlama T 2048 run).
 */
public final class ModelThroughput {
    private ModelThroughput() {
    }

    /** The two configurations of the model benchmark. */
    static LlamaConfig config(String name) {
        return switch (name) {
            // about 1.05M parameters
            case "1m" -> new LlamaConfig(128, 344, 4, 4, 4, 1e-5, 10000, 1024, 2048, false, 1, 2);
            // a 100M-class shape (GPT-2 small's widths with LLaMA's blocks and vocabulary): about 110M parameters
            case "100m" -> new LlamaConfig(768, 2048, 12, 12, 12, 1e-5, 10000, 32000, 2048, false, 1, 2);
            // TinyLlama-1.1B's shape: d 2048, d_ff 5632, 32 heads, 4 KV heads, 22 layers, V 32000
            case "tinyllama" -> new LlamaConfig(2048, 5632, 32, 4, 22, 1e-5, 10000, 32000, 2048, false, 1, 2);
            default -> throw new IllegalArgumentException("unknown config " + name + " (1m, 100m or tinyllama)");
        };
    }

    public static void main(String[] args) {
        LlamaConfig c = config(args[0]);
        int t = Integer.parseInt(args[1]);
        int steps = Integer.parseInt(args[2]);
        int repeats = Integer.parseInt(args[3]);
        LlamaModel m = new LlamaModel(LlamaWeights.random(c, 1, 0.02, false, false));
        int[] prompt = new int[t];
        java.util.Random rng = new java.util.Random(2);
        for (int i = 0; i < t; i++) {
            prompt[i] = rng.nextInt(c.vocabSize());
        }
        double bestPrefill = Double.MAX_VALUE;
        double bestDecode = Double.MAX_VALUE;
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (int r = 0; r < repeats + 1; r++) { // the first round warms up the JIT
                int[] input = r == 0 ? java.util.Arrays.copyOf(prompt, Math.min(t, 64)) : prompt;
                long t0 = System.nanoTime();
                KvCache cache = m.forward(input, null, LlamaModel.Options.LOGITS).present();
                long t1 = System.nanoTime();
                int next = prompt[t - 1];
                for (int k = 0; k < steps; k++) {
                    LlamaModel.Output o = m.forward(new int[] {next}, cache, LlamaModel.Options.LOGITS);
                    cache = o.present();
                    next = (next + 7) % c.vocabSize();
                }
                long t2 = System.nanoTime();
                if (r > 0) {
                    bestPrefill = Math.min(bestPrefill, (t1 - t0) / 1e9);
                    bestDecode = Math.min(bestDecode, (t2 - t1) / 1e9 / steps);
                }
            }
        }
        System.out.println(String.format(Locale.ROOT,
                "{\"config\": \"%s\", \"params\": %d, \"T\": %d, \"threads\": %d, \"prefill_s\": %.4f,"
                        + " \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.3f}",
                args[0], c.parameterCount(), t, Runtime.getRuntime().availableProcessors(), bestPrefill, t / bestPrefill,
                steps == 0 ? Double.NaN : 1 / bestDecode));
    }
}

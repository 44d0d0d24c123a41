package intactkv.bench;

import intactkv.autograd.AdamW;
import intactkv.autograd.Functional;
import intactkv.autograd.GradClip;
import intactkv.autograd.Parameter;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import java.util.Locale;
import java.util.Random;

/**
 * Training-step speed of the built-in model's shape (d 128, 4 layers, 8 heads, d_ff 384,
 * V 1024) on random tokens: forward, cross-entropy, backward, clipping and AdamW, batch B of T
 * tokens, as {@code intactkv.train.Trainer} runs it (one step per call, a collection between
 * steps). Prints tokens/s of the best of the
 * timed steps after 3 warm-up steps. {@code tools/bench/train.sh} runs the same loop in PyTorch.
 * Arguments: B, T, steps.
 */
public final class TrainThroughput {
    private TrainThroughput() {
    }

    private static void step(LlamaModel m, LlamaWeights w, AdamW opt, int[][] ids, int[] targets) {
        int b = ids.length;
        int t = ids[0].length;
        Parameter.zeroGrad(w.parameters());
        Value logits = m.forward(ids, null, LlamaModel.Options.LOGITS).logits();
        Value flat = Shaping.reshape(Shaping.slice(logits, 1, 0, t - 1), b * (t - 1), m.config().vocabSize());
        Functional.crossEntropy(flat, targets).backward();
        GradClip.clipGradNorm(w.parameters(), 1.0);
        opt.step(1e-3);
    }

    public static void main(String[] args) {
        int b = Integer.parseInt(args[0]);
        int t = Integer.parseInt(args[1]);
        int steps = Integer.parseInt(args[2]);
        LlamaConfig c = new LlamaConfig(128, 384, 8, 8, 4, 1e-5, 10000, 1024, 2048, false, 1, 2);
        LlamaWeights w = LlamaWeights.random(c, 1, 0.02, false, true);
        LlamaModel m = new LlamaModel(w);
        AdamW opt = new AdamW(w.parameters(), new AdamW.Config(0.9, 0.95, 1e-8, 0.1));
        Random rng = new Random(2);
        double best = Double.MAX_VALUE;
        for (int s = 0; s < steps + 3; s++) {
            int[][] ids = new int[b][t];
            int[] targets = new int[b * (t - 1)];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < t; j++) {
                    ids[i][j] = rng.nextInt(c.vocabSize());
                }
                System.arraycopy(ids[i], 1, targets, i * (t - 1), t - 1);
            }
            long t0 = System.nanoTime();
            step(m, w, opt, ids, targets);
            System.gc(); // as the Trainer does between steps (timed too)
            if (s >= 3) {
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
        }
        System.out.printf(Locale.ROOT, "{\"B\": %d, \"T\": %d, \"step_s\": %.3f, \"tokens_per_s\": %.0f}%n", b, t, best,
                b * t / best);
    }
}

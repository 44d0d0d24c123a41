package intactkv.bench;

import intactkv.autograd.Functional;
import intactkv.autograd.GradMode;
import intactkv.autograd.Parameter;
import intactkv.autograd.Shaping;
import intactkv.autograd.Value;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import java.util.Random;

/**
 * The bits of one training step, as one number: a hash of the loss, every parameter gradient
 * and the logits of a no-grad forward, for a small GQA model (d 64, 8 heads, 2 KV heads, 3 layers,
 * V 300) on a batch of 16 x 70 random tokens (T not a multiple of the kernels' blocks of 4 or 8).
 * A speed change that claims to be bit-identical prints the same line as the build before it, with
 * and without the Vector API and on any number of threads:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar intactkv.bench.GradientHash
 *   java -XX:ActiveProcessorCount=1 -cp benchmarks/target/benchmarks.jar intactkv.bench.GradientHash
 * </pre>
 * (docs/PERFORMANCE.md records the value of each session.)
 */
public final class GradientHash {
    private GradientHash() {
    }

    public static void main(String[] args) {
        LlamaConfig c = new LlamaConfig(64, 160, 8, 2, 3, 1e-5, 10000, 300, 128, false, 1, 2);
        LlamaWeights w = LlamaWeights.random(c, 7, 0.05, false, true);
        LlamaModel m = new LlamaModel(w);
        Random r = new Random(3);
        int[][] ids = new int[16][70];
        for (int[] row : ids) {
            for (int i = 0; i < row.length; i++) {
                row[i] = r.nextInt(c.vocabSize());
            }
        }
        int[] targets = new int[16 * 70];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = r.nextInt(c.vocabSize());
        }
        Value logits = m.forward(ids, null, LlamaModel.Options.LOGITS).logits();
        Value loss = Functional.crossEntropy(Shaping.reshape(logits, 16 * 70, c.vocabSize()), targets);
        loss.backward();
        long h = Double.doubleToLongBits(loss.item());
        for (Parameter p : w.parameters()) {
            for (double x : p.value().grad().data()) {
                h = h * 1000003L + Double.doubleToLongBits(x);
            }
        }
        try (GradMode.Scope s = GradMode.noGrad()) {
            for (double x : m.forward(new int[][] {ids[0]}, null, LlamaModel.Options.LOGITS).logits().data().data()) {
                h = h * 31 + Double.doubleToLongBits(x);
            }
        }
        System.out.printf("loss %s gradient hash %016x (vector API %s, %d threads)%n", Double.toString(loss.item()), h,
                intactkv.tensor.Gemm.vectorized(), Runtime.getRuntime().availableProcessors());
    }
}

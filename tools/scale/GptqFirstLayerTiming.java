import intactkv.model.LlamaWeights;
import intactkv.quant.Method;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.WeightQuantizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Wall time of GPTQ's first decoder layer on a checkpoint, as {@code quantize --method gptq --wbits 4 --group 128}
 * runs it: the embedding of the calibration sequences, the Hessians of the four true-sequential groups
 * ({@code Gptq.hessians}: the layer's calibration passes and the {@code X^T X} products), the seven
 * {@code Gptq.quantizeLayer} calls and the layer's outputs for the next layer. The run is stopped when the progress
 * callback reports layer 0 done. Calibration: {@code samples} sequences of {@code seqlen} token ids, BOS then
 * seeded random ids (the time does not depend on which tokens). Not a test: a measurement, run against any jar of
 * the project (the API used is public and unchanged), e.g. before and after a change:
 *
 * <pre>
 *   /usr/bin/python3 tools/scale/random_checkpoint.py tinyllama /tmp/me-tl2 bf16 --layers 2
 *   java --add-modules jdk.incubator.vector -Xmx2200m -XX:+UseParallelGC \
 *     -cp examples/target/intactkv.jar tools/scale/GptqFirstLayerTiming.java /tmp/me-tl2 16 512
 * </pre>
 * Layer 0's work does not depend on the number of layers, so a 2-layer checkpoint of the shape times it in
 * 2.4 GB of RSS (the 22-layer TinyLlama shape needs more than 3 GB: run that under {@code flock /tmp/bigmem.lock}).
 */
public final class GptqFirstLayerTiming {
    /** Thrown by the progress callback to end the run after layer 0. */
    private static final class LayerDone extends RuntimeException {
        LayerDone() {
            super(null, null, false, false);
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int samples = Integer.parseInt(args[1]);
        int seqlen = Integer.parseInt(args[2]);
        long t0 = System.nanoTime();
        LlamaWeights fp = LlamaWeights.load(dir, false);
        int layers = fp.config().numHiddenLayers();
        Random rng = new Random(27);
        List<int[]> calib = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            int[] s = new int[seqlen];
            s[0] = fp.config().bosTokenId();
            for (int j = 1; j < seqlen; j++) {
                s[j] = 3 + rng.nextInt(fp.config().vocabSize() - 3);
            }
            calib.add(s);
        }
        QuantConfig config = new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(4, 128), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        long t1 = System.nanoTime();
        System.out.printf(Locale.ROOT, "loaded %s (%d layers) and made %d x %d calibration tokens: %.1f s%n", dir,
                layers, samples, seqlen, (t1 - t0) / 1e9);
        try {
            ModelQuantizer.quantize(fp, config, calib, (stage, done) -> {
                if (done * layers >= 1 - 1e-9) {
                    throw new LayerDone();
                }
            });
            System.out.println("the run ended without reporting layer 0");
        } catch (LayerDone stop) {
            System.out.printf(Locale.ROOT, "layer 0 of GPTQ W4 g128: %.1f s%n", (System.nanoTime() - t1) / 1e9);
        }
    }
}

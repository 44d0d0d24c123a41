package intactkv.bench;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.quant.DynamicQuantizer;
import intactkv.quant.Method;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import intactkv.quant.WeightQuantizer;
import intactkv.tensor.Init;
import intactkv.tensor.MatMul;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Time of each quantization method (a bench command; one run of a method takes seconds):
 * GPTQ of one 1024 x 1024 layer with a Hessian from 128 x 512 calibration tokens (Hessian
 * accumulation and the quantization itself, timed separately), and every method on the 1M
 * model of {@link ModelThroughput} (W3 per channel; W4A4KV4 for QuaRot) with 32 calibration sequences of
 * 128 tokens.
 * {@code tools/bench/quant.sh} runs it beside PyTorch's GPTQ on the same layer.
 */
public final class QuantThroughput {
    private QuantThroughput() {
    }

    public static void main(String[] args) {
        Random rng = new Random(1);
        Tensor w = Init.normal(rng, 1, 1024, 1024);
        Tensor x = Init.normal(rng, 1, 128 * 512, 1024);
        for (int warm = 0; warm < 2; warm++) {
            long t0 = System.nanoTime();
            Tensor h = MatMul.matmulTransA(x, x).scale(2.0 / 128);
            long t1 = System.nanoTime();
            intactkv.quant.Gptq.quantizeLayer(w, h, WeightQuantizer.Spec.asym(4, 128), true, "bench");
            long t2 = System.nanoTime();
            if (warm == 1) {
                System.out.printf(Locale.ROOT, "{\"gptq_layer_hessian_s\": %.3f, \"gptq_layer_quant_s\": %.3f}%n",
                        (t1 - t0) / 1e9, (t2 - t1) / 1e9);
            }
        }
        LlamaConfig c = ModelThroughput.config("1m");
        LlamaWeights fp = LlamaWeights.random(c, 1, 0.05, true, false);
        List<int[]> calib = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            int[] s = new int[128];
            for (int j = 0; j < s.length; j++) {
                s[j] = rng.nextInt(c.vocabSize());
            }
            calib.add(s);
        }
        // per-channel: the 1M model's d_ff = 344 has no group size of 128
        WeightQuantizer.Spec w3 = WeightQuantizer.Spec.asym(3, WeightQuantizer.Spec.PER_CHANNEL);
        QuantConfig[] configs = {
            QuantConfig.rtn(3, WeightQuantizer.Spec.PER_CHANNEL),
            new QuantConfig(Method.GPTQ, w3, QuantConfig.OFF, QuantConfig.OFF, 0),
            new QuantConfig(Method.AWQ, w3, QuantConfig.OFF, QuantConfig.OFF, 0),
            new QuantConfig(Method.OMNIQUANT, w3, QuantConfig.OFF, QuantConfig.OFF, 0),
            new QuantConfig(Method.QUAROT, new WeightQuantizer.Spec(4, -1, true), new DynamicQuantizer(4, true, 0.9, 0),
                    new DynamicQuantizer(4, false, 0.95, 0), 0),
        };
        for (QuantConfig qc : configs) {
            long t0 = System.nanoTime();
            ModelQuantizer.quantize(fp, qc, calib, ModelQuantizer.Progress.NONE);
            System.out.printf(Locale.ROOT, "{\"method\": \"%s\", \"model\": \"1m\", \"seconds\": %.2f}%n", qc.label(),
                    (System.nanoTime() - t0) / 1e9);
        }
    }
}

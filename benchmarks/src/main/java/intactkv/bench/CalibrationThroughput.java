package intactkv.bench;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.prefix.CalibrationSample;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixCalibrator;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.quant.WeightQuantizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * IntactKV calibration speed (a bench command): the 1M model of {@link ModelThroughput},
 * RTN W3 per channel, IntactKV_[B] trained with the official settings (AdamW, constant rate, fp16 prefix,
 * 16-step accumulation, clip 0.3) on 128 random sequences of T tokens for the given number of
 * optimizer steps. Prints the time per optimizer step and the whole run.
 * {@code tools/bench/calibrate.sh} runs the same loop in PyTorch.
 *
 * <p>Arguments: T, optimizer steps (160 = the official full calibration).
 */
public final class CalibrationThroughput {
    private CalibrationThroughput() {
    }

    public static void main(String[] args) {
        int t = Integer.parseInt(args[0]);
        int steps = Integer.parseInt(args[1]);
        LlamaConfig c = ModelThroughput.config("1m");
        LlamaWeights fp = LlamaWeights.random(c, 1, 0.05, true, false);
        LlamaModel fpModel = new LlamaModel(fp);
        LlamaModel q = QuantizedModel.quantize(fp, QuantConfig.rtn(3, WeightQuantizer.Spec.PER_CHANNEL), null,
                (s, d) -> { }).model();
        Random rng = new Random(3);
        List<CalibrationSample> samples = new ArrayList<>();
        for (int i = 0; i < 128; i++) {
            int[] ids = new int[t];
            int[] counted = new int[t - 1];
            ids[0] = c.bosTokenId();
            for (int j = 1; j < t; j++) {
                ids[j] = 3 + rng.nextInt(c.vocabSize() - 3);
                counted[j - 1] = j;
            }
            samples.add(new CalibrationSample(ids, counted));
        }
        IntactKvPrefix prefix = IntactKvPrefix.bos(fpModel);
        PrefixCalibrator.Settings st = PrefixCalibrator.Settings.official().withSteps(steps);
        long t0 = System.nanoTime();
        PrefixCalibrator.Result r = new PrefixCalibrator(fpModel, q).calibrate(prefix, samples, st, (a, b, l) -> { });
        double total = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "{\"T\": %d, \"steps\": %d, \"total_s\": %.2f, \"step_s\": %.3f, "
                + "\"loss_before\": %.6f, \"loss_after\": %.6f}%n", t, steps, total, total / steps, r.lossBefore(),
                r.lossAfter());
    }
}

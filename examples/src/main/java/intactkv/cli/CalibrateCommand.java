package intactkv.cli;

import static intactkv.cli.Flags.require;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.CalibrationSample;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixCalibrator;
import intactkv.prefix.PrefixSpec;
import intactkv.quant.Calibration;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./intactkv calibrate}: train the IntactKV prefix of a quantized model. */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        header = "Train the IntactKV prefix of a quantized model.",
        description = {"Calibrate the IntactKV prefix (its keys and values are the only trainable parameters) so that every",
            "decoder layer of the quantized model matches the full-precision one; defaults are the official settings.",
            "--data: plain text (every token after the prefix counts) or .jsonl ShareGPT conversations (only the",
            "assistant's tokens count, Vicuna v1.1 template)."})
final class CalibrateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    QuantOptions quant;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "calibration text or ShareGPT .jsonl")
    Path data;

    @Option(names = "--intactkv", defaultValue = "prompt", paramLabel = "WHICH",
            description = "prefix to start from: prompt (default, IntactKV_[P]), bos, or a prefix file")
    String intactkv;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output prefix .safetensors")
    Path out;

    @Option(names = "--samples", defaultValue = "128", paramLabel = "N", description = "prefix-calibration samples (default ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--seqlen", defaultValue = "1024", paramLabel = "T", description = "maximum sample length (default ${DEFAULT-VALUE})")
    int seqlen;

    @Option(names = "--lr", defaultValue = "2e-4", description = "AdamW learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--steps", defaultValue = "160", description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--accumulation", defaultValue = "16", description = "gradient accumulation steps (default ${DEFAULT-VALUE})")
    int accumulation;

    @Option(names = "--warmup-ratio", defaultValue = "0.03", description = "linear warm-up fraction (default ${DEFAULT-VALUE})")
    double warmupRatio;

    @Option(names = "--clip", defaultValue = "0.3", description = "gradient-norm clip (default ${DEFAULT-VALUE})")
    double clip;

    @Option(names = "--seed", defaultValue = "42", description = "seed (default ${DEFAULT-VALUE})")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (intactkv.equals("none")) {
            throw new IllegalArgumentException("calibrate trains a prefix: use --intactkv prompt, bos or a prefix file");
        }
        PrefixCalibrator.Settings st = new PrefixCalibrator.Settings(lr, warmupRatio, accumulation, steps, clip, seed, 0);
        require(samples >= 1, "--samples must be >= 1: " + samples);
        require(seqlen >= 2, "--seqlen must be >= 2: " + seqlen);
        quant.validate();
        ModelDir.checkOutputFile(out);
        String text = Calibration.readText(data);
        LlamaWeights fp = LlamaWeights.load(ModelDir.check(quant.model), false);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        // the prefix and the samples come from the full-precision model and the data: made and
        // checked before quantizing, which can take hours
        quant.plannedConfig(); // quant_config.json of --quantized read and checked now
        int[] prefixIds = PrefixSpec.plannedIds(intactkv, fp.config(), tok);
        boolean jsonl = data.toString().endsWith(".jsonl") || text.stripLeading().startsWith("{");
        List<CalibrationSample> set = jsonl
                ? CalibrationSample.fromShareGpt(tok, text.lines().toList(), prefixIds, samples, seqlen, data.toString())
                : CalibrationSample.fromText(tok, text, prefixIds, samples, seqlen, seed, data.toString());
        try (ProgressBar bar = new ProgressBar()) {
            QuantizedModel q = quant.build(fp, bar);
            // the prefix and the targets from the full-precision model in the quantized model's basis
            LlamaModel fpModel = q.twin();
            IntactKvPrefix prefix = PrefixSpec.resolve(intactkv, fpModel, tok);
            PrefixCalibrator.Result r = new PrefixCalibrator(fpModel, q.model()).calibrate(prefix, set, st,
                    (step, total, loss) -> bar.update("calibrate", (double) step / total,
                            String.format(Locale.ROOT, "step %d/%d loss %.5f", step, total, loss)));
            r.prefix().save(out);
            spec.commandLine().getOut().printf(Locale.ROOT,
                    "calibrated a %d-token prefix on %d samples (%s): loss %.6f -> %.6f; wrote %s%n", prefix.length(),
                    set.size(), q.config().label(), r.lossBefore(), r.lossAfter(), out);
        }
        return 0;
    }
}

package intactkv.cli;

import static intactkv.cli.Flags.require;

import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.CalibrationSample;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixCalibrator;
import intactkv.prefix.PrefixDtype;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.ShareGptConversation;
import intactkv.prefix.ShareGptSelection;
import intactkv.quant.Calibration;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import java.io.PrintWriter;
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
            "decoder layer of the quantized model matches the full-precision one; defaults are the official settings",
            "(intactkv_train.py, scripts/train/train.sh): AdamW lr 2e-4, constant schedule without warm-up (the HF",
            "Trainer's 'constant' ignores warmup_ratio), 16-step accumulation, 160 steps, clip 0.3, fp16 prefix.",
            "--data: plain text (random windows after the prefix; every token counts), or ShareGPT conversations",
            "(.json array as the official file, or .jsonl): shuffled with Python's random.seed(42), the first",
            "--samples with more than 50 assistant tokens within --seqlen are kept, formatted as utils/sharegpt.py",
            "(Vicuna v1.1, each message tokenized on its own, no </s> after answers); only assistant tokens count.",
            "Two calibrations, two sets of flags: --data, --samples, --seqlen, --seed are the prefix calibration's;",
            "--calib, --calib-samples, --calib-seqlen, --calib-seed, --qseed are the quantizer's own (gptq, awq, ...)."})
final class CalibrateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RunQuantOptions quant;

    @Option(names = "--data", required = true, paramLabel = "FILE",
            description = "the prefix calibration's data (not the quantizer's, see --calib): plain text, or ShareGPT"
                    + " conversations (.json array or .jsonl; detected by the name or a leading '[' or '{')")
    Path data;

    @Option(names = "--intactkv", defaultValue = "prompt", paramLabel = "WHICH",
            description = "prefix to start from: prompt (default, IntactKV_[P]), bos, or a prefix file")
    String intactkv;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "output prefix .safetensors")
    Path out;

    @Option(names = "--samples", defaultValue = "128", paramLabel = "N", description = "the prefix calibration's"
            + " samples, drawn from --data (not the quantizer's, see --calib-samples) (default ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--seqlen", paramLabel = "T", description = "length of the prefix calibration's"
            + " samples in tokens, the prefix included: plain text is cut into windows of T, ShareGPT conversations are"
            + " cut at T (not the quantizer's calibration windows, see --calib-seqlen) (default: the official 1024, at"
            + " most the model's max_position_embeddings)")
    Integer seqlenFlag;

    /** The official maximum sample length (utils/sharegpt.py). */
    static final int OFFICIAL_SEQLEN = 1024;

    @Option(names = "--lr", defaultValue = "2e-4", paramLabel = "LR", description = "AdamW learning rate (default ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--steps", defaultValue = "160", paramLabel = "N", description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--accumulation", defaultValue = "16", paramLabel = "N", description = "samples whose gradients"
            + " are summed per optimizer step (default ${DEFAULT-VALUE})")
    int accumulation;

    @Option(names = "--warmup", defaultValue = "0", paramLabel = "FRACTION",
            description = "linear warm-up over ceil(FRACTION * steps) steps (default ${DEFAULT-VALUE}: the official constant"
                    + " schedule, which runs without warm-up although intactkv_train.py passes warmup_ratio 0.03)")
    double warmupRatio;

    @Option(names = "--prefix-dtype", defaultValue = "f16", paramLabel = "DTYPE",
            description = "precision the prefix is stored in, rounded at the start and after every optimizer step: f16"
                    + " (default, the official fp16 parameter), f32, or f64 (double, no rounding)")
    String prefixDtype;

    @Option(names = "--clip", defaultValue = "0.3", paramLabel = "NORM", description = "gradient-norm clip (default ${DEFAULT-VALUE})")
    double clip;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S",
            description = "the prefix calibration's seed: the per-epoch sample order and the plain-text windows (default"
                    + " ${DEFAULT-VALUE}; the ShareGPT selection always shuffles with Python's seed 42, as the official);"
                    + " not the quantizer's, see --qseed and --calib-seed")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (intactkv.equals("none")) {
            throw new IllegalArgumentException("calibrate trains a prefix: use --intactkv prompt, bos or a prefix file");
        }
        PrefixCalibrator.Settings st = PrefixCalibrator.Settings.official().withLr(lr).withWarmup(warmupRatio)
                .withAccumulation(accumulation).withSteps(steps).withClip(clip).withSeed(seed)
                .withPrefixDtype(PrefixDtype.parse(prefixDtype));
        require(samples >= 1, "--samples must be >= 1: " + samples);
        require(seqlenFlag == null || seqlenFlag >= 2, "--seqlen must be >= 2: " + seqlenFlag);
        ModelDir.checkOutputFile(out); // before the calibration text of --calib is drawn (tokenizing a large file takes a while)
        quant.validate();
        String text = Calibration.readText(data);
        intactkv.model.LlamaConfig mc = MemoryEstimate.config(quant.model);
        int seqlen = ModelLength.officialOrModel("--seqlen", seqlenFlag, OFFICIAL_SEQLEN, mc);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        String name = data.getFileName().toString();
        String head = text.stripLeading();
        boolean shareGpt = name.endsWith(".json") || name.endsWith(".jsonl") || head.startsWith("[")
                || head.startsWith("{");
        // the prefix and the samples come from the full-precision model and the data: made and
        // checked before quantizing, which can take hours
        quant.plannedConfig(); // quant_config.json of --quantized read and checked now
        int[] prefixIds = PrefixSpec.plannedIds(intactkv, mc, tok);
        List<ShareGptConversation> conversations = shareGpt ? ShareGptConversation.parse(text, data.toString()) : null;
        ShareGptSelection.Selection chosen = shareGpt
                ? ShareGptSelection.select(conversations, m -> tok.encode(m, false), tok.bosId(),
                        ShareGptSelection.Settings.official(samples, seqlen), data.toString())
                : null;
        List<CalibrationSample> set;
        if (chosen != null) {
            chosen.requirePrefix(prefixIds, "--intactkv " + intactkv + " prefix");
            set = chosen.samples();
        } else {
            set = textSamples(tok, text, prefixIds, seqlen);
        }
        // the weights as the checkpoint headers say they are held, the quantized copy and its twin (QuantOptions
        // weightTerms), and every layer's attention for the backward pass, before any weight is read
        MemoryEstimate.requireBackward(mc, "--seqlen " + seqlen + ": the longest sample", 1,
                set.stream().mapToInt(x -> x.ids().length).max().orElse(0), 0, quant.peakTerms(true, w -> w).total());
        LlamaWeights fp = LlamaWeights.load(ModelDir.check(quant.model), false);
        PrintWriter o = spec.commandLine().getOut();
        if (chosen != null) {
            o.printf(Locale.ROOT, "ShareGPT: %d conversations with more than 50 assistant tokens, found among the first"
                    + " %d of %d after the seed-42 shuffle%n", set.size(), chosen.examined(), conversations.size());
        }
        o.printf(Locale.ROOT, "schedule: %s; prefix stored as %s%n", st.warmupSteps() == 0 ? "constant, no warm-up"
                : "constant after " + st.warmupSteps() + " warm-up steps", st.prefixDtype().flag());
        try (ProgressBar bar = new ProgressBar()) {
            QuantizedModel q = quant.build(fp, bar);
            // the prefix and the targets from the full-precision model in the quantized model's basis
            LlamaModel fpModel = q.twin();
            IntactKvPrefix prefix = PrefixSpec.resolve(intactkv, fpModel, tok);
            PrefixCalibrator.Result r = new PrefixCalibrator(fpModel, q.model()).calibrate(prefix, set, st,
                    (step, total, loss) -> bar.update("calibrate", (double) step / total,
                            String.format(Locale.ROOT, "step %d/%d loss %.5f", step, total, loss)));
            r.prefix().save(out);
            o.printf(Locale.ROOT,
                    "calibrated a %d-token prefix on %d samples (%s): loss %.6g -> %.6g; wrote %s%n", prefix.length(),
                    set.size(), q.config().label(), r.lossBefore(), r.lossAfter(), out);
        }
        return 0;
    }

    /**
     * The plain-text samples: windows of --seqlen tokens, the prefix first. Refused by flag when
     * --seqlen leaves no token after the prefix (the real cause when --seqlen is small, not the
     * prefix itself) or when --data is shorter than one sample.
     */
    private List<CalibrationSample> textSamples(Tokenizer tok, String text, int[] prefixIds, int seqlen) {
        require(seqlen > prefixIds.length, "--seqlen " + seqlen + " leaves no room after the --intactkv " + intactkv
                + " prefix of " + prefixIds.length + " tokens" + (intactkv.equals("prompt")
                        ? " ([BOS] and the Vicuna system prompt)" : "") + ": each sample is the prefix followed by"
                + " --data tokens, so use --seqlen " + (prefixIds.length + 1) + " or more (default 1024)"
                + (intactkv.equals("bos") ? "" : ", or the 1-token prefix --intactkv bos"));
        try {
            return CalibrationSample.fromText(tok, text, prefixIds, samples, seqlen, seed, data.toString());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "; use a longer --data file or a smaller --seqlen"
                    + " (now " + seqlen + ", the prefix included)", e);
        }
    }
}

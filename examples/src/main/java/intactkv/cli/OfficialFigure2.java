package intactkv.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixSizeSweep;
import intactkv.prefix.PrefixSpec;
import intactkv.prefix.ShareGptConversation;
import intactkv.prefix.ShareGptSelection;
import intactkv.quant.QuantizedModel;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code analyze --sharegpt}: the paper's Figure 2 with the official protocol
 * ({@code intactkv_motivation.py}, {@link PrefixSizeSweep}) on the official calibration
 * selection ({@link ShareGptSelection}): IntactKV sizes 0..K of the Vicuna prompt, loss on the
 * positions >= K, 0.5 * MSE of every layer's output (total and last layer). Writes
 * {@code mse_vs_intactkv_size.png} and {@code analysis.json}, both with their {@link Provenance}.
 */
final class OfficialFigure2 {
    private OfficialFigure2() {
    }

    /** Everything the command needs, checked by {@link #run} before any model work. */
    record Request(Path shareGpt, int samples, Integer seqlen, Integer maxPrefix, Path out) {
    }

    static int run(PrintWriter o, QuantOptions quant, Request req, picocli.CommandLine.Model.CommandSpec spec)
            throws Exception {
        // every input checked before the first forward pass; nothing is written on a refusal
        // the official 1024, lowered to the model's positions; an explicit one checked against them
        int seqlen = ModelLength.officialOrModel("--seqlen", req.seqlen(), CalibrateCommand.OFFICIAL_SEQLEN,
                intactkv.model.LlamaConfig.read(ModelDir.check(quant.model).resolve("config.json")));
        ShareGptSelection.Settings st = ShareGptSelection.Settings.official(req.samples(), seqlen);
        ModelDir.checkOutput(req.out());
        List<ShareGptConversation> data = ShareGptConversation.read(req.shareGpt());
        Provenance prov = Provenance.of(spec, quant.model, Provenance.Input.file(req.shareGpt()));
        LlamaWeights fp = LlamaWeights.load(ModelDir.check(quant.model), false);
        Tokenizer tok = ModelDir.tokenizer(quant.model);
        int[] prompt = IntactKvPrefix.vicunaPromptIds(tok);
        int k = req.maxPrefix() == null ? prompt.length : req.maxPrefix();
        Flags.require(k >= 1 && k <= prompt.length, "--max-prefix must be in 1.." + prompt.length + " (the IntactKV_[P]"
                + " prompt of this tokenizer has " + prompt.length + " tokens, [BOS] included): " + k);
        ShareGptSelection.Selection sel = ShareGptSelection.select(data, m -> tok.encode(m, false), tok.bosId(), st,
                req.shareGpt().toString());
        sel.requirePrefix(Arrays.copyOf(prompt, k), "first " + k + " tokens of the IntactKV_[P] prompt");
        List<int[]> ids = sel.samples().stream().map(s -> s.ids()).toList();
        PrefixSizeSweep.check(prompt, k, ids);
        AnalyzeCommand.defaultToRtnW3(quant, fp.config());
        quant.validate();
        try (OutputFolder folder = OutputFolder.open(req.out())) { // removed again if anything below fails
            o.printf(Locale.ROOT, "ShareGPT %s: %d conversation%s selected (seed-42 shuffle, > 50 assistant tokens within"
                    + " %d tokens; %d examined of %d); loss on positions >= %d%n", req.shareGpt(), ids.size(),
                    ids.size() == 1 ? "" : "s", seqlen, sel.examined(), data.size(), k);
            List<PrefixSizeSweep.Point> points;
            String label;
            try (ProgressBar bar = new ProgressBar()) {
                QuantizedModel q = quant.build(fp, bar);
                label = q.config().label();
                LlamaModel reference = q.twin(); // the full-precision model in the quantized model's basis
                points = PrefixSizeSweep.run(reference, reference, q.model(), prompt, k, ids,
                        (done, total) -> bar.update("IntactKV sizes", (double) done / total, "sample " + done + "/" + total));
            }
            o.printf("0.5 * MSE to full precision of %s against IntactKV size (mean over samples):%n", label);
            o.println("  size  last token    last layer     all layers");
            JsonObject json = new JsonObject();
            json.add("provenance", prov.toJson());
            json.addProperty("protocol", "intactkv_motivation.py (official Figure 2)");
            json.addProperty("quantization", label);
            json.addProperty("sharegpt", req.shareGpt().toString());
            json.addProperty("samples", ids.size());
            json.addProperty("max_seq_len", seqlen);
            json.addProperty("intactkv_size", k);
            json.addProperty("loss_positions", "t >= " + k + " (all tokens there)");
            json.addProperty("loss", "0.5 * mean over (positions, channels) of the squared layer-output error, mean over"
                    + " samples; last_layer = layer " + (fp.config().numHiddenLayers() - 1) + ", total = sum over layers");
            JsonArray chosen = new JsonArray();
            sel.chosen().forEach(c -> chosen.add(c.index()));
            json.add("conversation_indices", chosen);
            JsonArray rows = new JsonArray();
            double[][] curve = new double[2][points.size()];
            for (PrefixSizeSweep.Point p : points) {
                String piece = p.size() == 0 ? "(none)" : "'" + tok.piece(prompt[p.size() - 1]) + "'";
                o.printf(Locale.ROOT, "  %4d  %-12s  %-12.6g  %-12.6g%n", p.size(), piece, p.lastLayer(), p.total());
                JsonObject r = new JsonObject();
                r.addProperty("size", p.size());
                r.addProperty("last_token", p.size() == 0 ? null : tok.piece(prompt[p.size() - 1]));
                r.addProperty("last_layer", p.lastLayer());
                r.addProperty("total", p.total());
                rows.add(r);
                curve[0][p.size()] = p.size();
                curve[1][p.size()] = p.lastLayer();
            }
            json.add("by_size", rows);
            Map<String, double[][]> series = new LinkedHashMap<>();
            series.put("last decoder layer, " + label, curve);
            Charts.save(req.out().resolve("mse_vs_intactkv_size.png"), Charts.curves("Quantization loss vs IntactKV size ("
                            + ids.size() + " ShareGPT samples, positions >= " + k + ")",
                    "Size of IntactKV (first tokens of [BOS] + Vicuna system prompt)",
                    "0.5 x MSE of the last layer output", series, 0, prov), prov);
            AtomicFiles.writeString(req.out().resolve("analysis.json"),
                    new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(json));
            o.println("wrote " + req.out().resolve("analysis.json") + " and " + req.out().resolve("mse_vs_intactkv_size.png"));
            folder.done();
            return 0;
        }
    }
}

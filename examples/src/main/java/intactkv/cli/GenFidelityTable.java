package intactkv.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.eval.GenerationFidelity;
import intactkv.eval.GenerationFidelity.PromptScore;
import intactkv.eval.GenerationFidelity.Stat;
import intactkv.eval.GenerationFidelity.Summary;
import intactkv.model.LlamaModel;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.PrefixedModel;
import intactkv.tensor.ElementDtype;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The generation-fidelity table of {@code gen-fidelity} and {@code demo}: per quantized model and
 * IntactKV setting, the share of greedy continuations identical to the full-precision model's, the
 * tokens before the first divergence and the token-level ROUGE-L F1 ({@link GenerationFidelity}),
 * each +- its standard error over prompts; after each IntactKV row, its paired difference to the
 * same model without IntactKV, marked {@code ~} when within two standard errors (as the demo's KL
 * column).
 */
final class GenFidelityTable {
    private GenFidelityTable() {
    }

    /** One row: {@code model} (its quantization), {@code intactkv} (none, [B], ...) and each prompt's score. */
    record Row(String model, String intactkv, List<PromptScore> scores) {
        Summary summary() {
            return GenerationFidelity.summarize(scores);
        }
    }

    /**
     * The rows of the quantized model {@code q}: without IntactKV, then (when {@code prefix} is not
     * null) with it, labelled {@code prefixLabel}; each continuing {@code prompts} for at most
     * {@code maxTokens} tokens and scored against {@code reference} (the full-precision
     * continuations). Progress on {@code bar}.
     */
    static List<Row> rows(String model, LlamaModel q, IntactKvPrefix prefix, String prefixLabel, Tokenizer tok,
                          List<int[]> prompts, List<int[]> reference, int maxTokens, ProgressBar bar) {
        return rows(model, q, prefix, prefixLabel, tok, prompts, reference, maxTokens, ElementDtype.F64, bar);
    }

    /**
     * {@link #rows(String, LlamaModel, IntactKvPrefix, String, Tokenizer, List, List, int, ProgressBar)} with every
     * KV cache in {@code cache}.
     */
    static List<Row> rows(String model, LlamaModel q, IntactKvPrefix prefix, String prefixLabel, Tokenizer tok,
                          List<int[]> prompts, List<int[]> reference, int maxTokens, ElementDtype cache,
                          ProgressBar bar) {
        List<Row> out = new ArrayList<>();
        out.add(new Row(model, "none", GenerationFidelity.scores(reference, GenerationFidelity.continuations(
                new PrefixedModel(q, null), tok, prompts, maxTokens, cache, d -> bar.update("generate", d, model)))));
        if (prefix != null) {
            out.add(new Row(model, prefixLabel, GenerationFidelity.scores(reference, GenerationFidelity.continuations(
                    new PrefixedModel(q, prefix), tok, prompts, maxTokens, cache,
                    d -> bar.update("generate", d, model + " " + prefixLabel)))));
        }
        return out;
    }

    /**
     * The prompts of {@code lines} ({@link GenerationFidelity#prompts}, {@code s}'s counts;
     * refusals name {@code source}) as token ids, [BOS] first.
     */
    static List<int[]> prompts(List<String> lines, GenerationFidelity.Settings s, Tokenizer tok, String source) {
        List<int[]> ids = new ArrayList<>();
        for (String t : GenerationFidelity.prompts(lines, s, source)) {
            ids.add(tok.encode(t, true));
        }
        return ids;
    }

    /** The row without IntactKV that {@code r} pairs with (the same model, just before it), or null. */
    private static Row baseline(List<Row> rows, int i) {
        Row r = rows.get(i);
        if (r.intactkv().equals("none") || i == 0) {
            return null;
        }
        Row b = rows.get(i - 1);
        return b.model().equals(r.model()) && b.intactkv().equals("none") ? b : null;
    }

    /** The table in Markdown, one line per row and per paired difference, then a legend line. */
    static String markdown(List<Row> rows, int maxTokens) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "| %-26s | %-13s | %-17s | %-19s | %-17s |%n", "Model", "IntactKV",
                "identical to FP", "tokens agreed", "ROUGE-L F1"));
        sb.append("|----------------------------|---------------|-------------------|---------------------|")
                .append("-------------------|").append(System.lineSeparator());
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            Summary s = r.summary();
            sb.append(String.format(Locale.ROOT, "| %-26s | %-13s | %-17s | %-19s | %-17s |%n", r.model(), r.intactkv(),
                    pm(s.identical(), "%.3f"), pm(s.agreed(), "%.2f"), pm(s.rougeL(), "%.3f")));
            Row b = baseline(rows, i);
            if (b != null) {
                Summary d = GenerationFidelity.difference(b.scores(), r.scores());
                sb.append(String.format(Locale.ROOT, "| %-26s | %-13s | %-17s | %-19s | %-17s |%n", "", r.intactkv()
                        + " - none", diff(d.identical(), "%+.3f"), diff(d.agreed(), "%+.2f"), diff(d.rougeL(), "%+.3f")));
            }
        }
        int prompts = rows.isEmpty() ? 0 : rows.get(0).scores().size();
        sb.append(String.format(Locale.ROOT, "Greedy continuations of %d prompts, at most %d tokens ([EOS] counted as"
                + " a token), against the full-precision model's: identical = share equal token for token; tokens agreed"
                + " = tokens before the first divergence; ROUGE-L F1 = longest common subsequence of token ids"
                + " (rouge-score's F-measure); +- standard error over prompts; X - none: paired difference by prompt, ~"
                + " within two standard errors.", prompts, maxTokens));
        return sb.toString();
    }

    private static String pm(Stat s, String format) {
        return String.format(Locale.ROOT, format + " +- " + format.replace("+", ""), s.mean(), s.stderr());
    }

    private static String diff(Stat s, String format) {
        return pm(s, format) + (s.withinTwoStderr() ? " ~" : "");
    }

    /** The rows as JSON (results.json, --json): each measure and its standard error; paired differences on IntactKV rows. */
    static JsonArray json(List<Row> rows) {
        JsonArray out = new JsonArray();
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            JsonObject j = new JsonObject();
            j.addProperty("model", r.model());
            j.addProperty("intactkv", r.intactkv());
            j.addProperty("prompts", r.scores().size());
            add(j, "", r.summary());
            Row b = baseline(rows, i);
            if (b != null) {
                add(j, "difference_", GenerationFidelity.difference(b.scores(), r.scores()));
            }
            out.add(j);
        }
        return out;
    }

    private static void add(JsonObject j, String prefix, Summary s) {
        boolean diff = !prefix.isEmpty();
        String[] names = {"identical", "tokens_agreed", "rouge_l_f1"};
        Stat[] stats = {s.identical(), s.agreed(), s.rougeL()};
        for (int k = 0; k < names.length; k++) {
            j.addProperty(prefix + names[k], stats[k].mean());
            if (!Double.isNaN(stats[k].stderr())) {
                j.addProperty(prefix + names[k] + "_stderr", stats[k].stderr());
            }
            if (diff) {
                j.addProperty(prefix + names[k] + "_within_two_stderr", stats[k].withinTwoStderr());
            }
        }
    }
}

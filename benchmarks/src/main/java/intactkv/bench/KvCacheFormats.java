package intactkv.bench;

import intactkv.autograd.GradMode;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.text.Tokenizer;
import intactkv.tensor.ElementDtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * What holding the KV cache in F32, F16 or BF16 ({@code --kv-cache-dtype}) changes against double, on one checkpoint:
 * the logits of a prompt run into the cache and of decoding steps after it, and the time a decoding step takes. Every
 * format follows the same tokens (the double cache's greedy choices, forced), so each step compares logits of the same
 * sequence; the formats run in turn, prompt by prompt, so that a burst of the host's load slows each alike.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -XX:+UseParallelGC -Xmx4g -cp benchmarks/target/benchmarks.jar \
 *       intactkv.bench.KvCacheFormats examples/default-model 64 32 8 /tmp/e-dm/data/test.txt
 *   java ... intactkv.bench.KvCacheFormats /tmp/e-tinyllama 512 16 3
 * </pre>
 * Arguments: checkpoint directory, prompt length T, decode steps, prompts, and optionally a UTF-8 text file whose
 * lines of at least T tokens (tokenized with the directory's tokenizer.json, [BOS] first) are the prompts; without
 * it the prompts are random token ids ([BOS] first, {@code java.util.Random(7)}). Prints one JSON line per format:
 * the largest and the RMS difference of its logits from the double cache's (all positions of each prompt, then each
 * step), the RMS of the double cache's logits for scale, the share of positions whose argmax agrees, the median
 * wall time of a decoding step, and the cache's bytes a position.
 */
public final class KvCacheFormats {
    private KvCacheFormats() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 4) {
            throw new IllegalArgumentException("usage: KvCacheFormats DIR T STEPS PROMPTS [TEXT_FILE]; got "
                    + String.join(" ", args));
        }
        Path dir = Path.of(args[0]);
        int t = Integer.parseInt(args[1]);
        int steps = Integer.parseInt(args[2]);
        int n = Integer.parseInt(args[3]);
        LlamaWeights w = LlamaWeights.load(dir, false);
        LlamaConfig c = w.config();
        LlamaModel m = new LlamaModel(w);
        List<int[]> prompts = args.length > 4 ? textPrompts(Path.of(args[4]), dir, t, n) : randomPrompts(c, t, n);
        ElementDtype[] formats = ElementDtype.values();
        Stats[] stats = new Stats[formats.length];
        for (int f = 0; f < formats.length; f++) {
            stats[f] = new Stats();
        }
        try (GradMode.Scope s = GradMode.noGrad()) {
            // warm-up: every format once on a short prompt
            for (ElementDtype d : formats) {
                run(m, c, java.util.Arrays.copyOf(prompts.get(0), Math.min(8, t)), 2, d, null, null);
            }
            for (int i = 0; i < prompts.size(); i++) {
                int[] forced = new int[steps];
                List<double[]> ref = run(m, c, prompts.get(i), steps, ElementDtype.F64, forced, stats[0]);
                for (int f = 1; f < formats.length; f++) {
                    List<double[]> got = run(m, c, prompts.get(i), steps, formats[f], forced, stats[f]);
                    for (int r = 0; r < ref.size(); r++) {
                        stats[f].compare(ref.get(r), got.get(r), c.vocabSize());
                    }
                }
            }
        }
        for (int f = 0; f < formats.length; f++) {
            Stats st = stats[f];
            System.out.println(String.format(Locale.ROOT, "{\"bench\": \"kv_cache_formats\", \"model\": \"%s\","
                            + " \"T\": %d, \"steps\": %d, \"prompts\": %d, \"dtype\": \"%s\","
                            + " \"cache_bytes_per_position\": %d, \"max_abs_logit_diff\": %.3e,"
                            + " \"rms_logit_diff\": %.3e, \"rms_logit_f64\": %.3e,"
                            + " \"argmax_agree\": %.4f, \"decode_ms_per_token_median\": %.2f}",
                    dir, t, steps, prompts.size(), formats[f].id(), 2L * c.numHiddenLayers() * c.numKeyValueHeads()
                            * c.headDim() * formats[f].bytes(), st.maxAbs, Math.sqrt(st.sumSq / Math.max(1, st.count)),
                    Math.sqrt(stats[1].refSq / Math.max(1, stats[1].count)), f == 0 ? 1.0
                            : (double) st.agree / Math.max(1, st.rows), st.medianMs()));
        }
    }

    /**
     * The prompt run into an empty cache of {@code dtype} with room for every step, then {@code steps} steps of one
     * token: {@code forced}'s tokens, or (when {@code choose}) the argmax of the last logits, recorded into
     * {@code forced}. Returns the prompt's logits (T x V) and each step's (V); step times go to {@code st}.
     */
    private static List<double[]> run(LlamaModel m, LlamaConfig c, int[] prompt, int steps, ElementDtype dtype,
                                      int[] forced, Stats st) {
        boolean choose = dtype == ElementDtype.F64 && forced != null;
        List<double[]> out = new ArrayList<>();
        KvCache cache = KvCache.empty(c, prompt.length + steps, 1, dtype);
        LlamaModel.Output o = m.forward(prompt, cache, LlamaModel.Options.LOGITS);
        out.add(o.logits().data().data());
        int v = c.vocabSize();
        for (int k = 0; k < steps; k++) {
            double[] last = out.get(out.size() - 1);
            int next = choose ? argmax(last, last.length - v, v) : forced == null ? 1 : forced[k];
            if (choose) {
                forced[k] = next;
            }
            long t0 = System.nanoTime();
            o = m.forward(new int[] {next}, o.present(), LlamaModel.Options.LOGITS);
            long t1 = System.nanoTime();
            if (st != null) {
                st.ms.add((t1 - t0) / 1e6);
            }
            out.add(o.logits().data().data());
        }
        return out;
    }

    private static int argmax(double[] x, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[from + i] > x[from + best]) {
                best = i;
            }
        }
        return best;
    }

    private static List<int[]> randomPrompts(LlamaConfig c, int t, int n) {
        Random r = new Random(7);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] p = new int[t];
            p[0] = c.bosTokenId();
            for (int j = 1; j < t; j++) {
                p[j] = r.nextInt(c.vocabSize());
            }
            out.add(p);
        }
        return out;
    }

    private static List<int[]> textPrompts(Path text, Path dir, int t, int n) throws IOException {
        Tokenizer tok = Tokenizer.load(dir.resolve("tokenizer.json"));
        List<int[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(text)) {
            int[] ids = tok.encode(line.strip(), true);
            if (ids.length >= t) {
                out.add(java.util.Arrays.copyOf(ids, t));
                if (out.size() == n) {
                    return out;
                }
            }
        }
        throw new IllegalArgumentException(text + ": only " + out.size() + " lines of at least " + t + " tokens, "
                + n + " asked for");
    }

    /** Differences from the double cache's logits, argmax agreement, and step times of one format. */
    private static final class Stats {
        double maxAbs;
        double sumSq;
        double refSq;
        long count;
        long rows;
        long agree;
        final List<Double> ms = new ArrayList<>();

        void compare(double[] ref, double[] got, int v) {
            for (int i = 0; i < ref.length; i++) {
                double d = got[i] - ref[i];
                maxAbs = Math.max(maxAbs, Math.abs(d));
                sumSq += d * d;
                refSq += ref[i] * ref[i];
            }
            count += ref.length;
            for (int r = 0; r + v <= ref.length; r += v) {
                rows++;
                agree += argmax(ref, r, v) == argmax(got, r, v) ? 1 : 0;
            }
        }

        double medianMs() {
            List<Double> s = new ArrayList<>(ms);
            java.util.Collections.sort(s);
            return s.isEmpty() ? Double.NaN : s.get(s.size() / 2);
        }
    }
}

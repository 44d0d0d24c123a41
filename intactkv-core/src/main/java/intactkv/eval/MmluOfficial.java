package intactkv.eval;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.text.Tokenizer;
import intactkv.prefix.PrefixedModel;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleConsumer;
import java.util.function.ToIntFunction;

/**
 * MMLU scored as the IntactKV repository scores it, not by log-likelihood: the k-shot prompt
 * ({@link MmluFormat}) is run once and the answer is the letter whose token has the largest
 * next-token logit at the last position.
 * <pre>
 *   ids       = [BOS] + tokens(gen_prompt(dev, s, k) + format_example(x, false))
 *               while |ids| > L: k = k - 1 and rebuild                 L = {@value #OFFICIAL_MAX_LENGTH}
 *   id_c      = tokens(letter(c))[-1]                                   tokenizer("A").input_ids[-1]
 *   z         = logits(ids)[last position]
 *   probs_c   = softmax_c(z[id_c])                                      over the item's letters
 *   predicted = argmax_c probs_c                                        (first maximum on ties)
 * </pre>
 * With a SentencePiece tokenizer (LLaMA, Vicuna) {@code tokens("A")} is the one piece "▁A", the
 * token that follows "Answer:" in a shot; the rule here is the official one whatever the
 * tokenizer gives. The model runs through {@link PrefixedModel}: with IntactKV_[B] the input's
 * [BOS] is replaced by the full-precision prefix, as the official
 * {@code inference_model.py::IntactKVLlamaForCausalLM.forward} does. The length limit L is the
 * official 2048, or the model's {@code max_position_embeddings} when that is smaller, and counts
 * every position the model runs (an IntactKV prefix that is not a prefix of the input comes in
 * front of it). A prompt that does not fit even with no shot is refused (the official loop would
 * go on with k = -1, which {@code gen_prompt} reads as "all dev rows").
 *
 * <p>Reference: {@code eval_utils/mmlu.py::eval}; the shot counts of
 * {@code intactkv_eval.py --mmlu_num_few_shots} (default "0,5").
 */
public final class MmluOfficial {
    /** The official prompt limit in tokens ({@code while input_ids.shape[-1] > 2048}). */
    public static final int OFFICIAL_MAX_LENGTH = 2048;
    /** The official shot counts, each a separate run ({@code --mmlu_num_few_shots} default "0,5"). */
    public static final List<Integer> OFFICIAL_SHOTS = List.of(0, 5);

    private MmluOfficial() {
    }

    /** The logits (V) of the next token after the whole input {@code ids}. */
    @FunctionalInterface
    public interface LastLogits {
        double[] next(int[] ids);
    }

    /** {@code model(input_ids).logits[0, -1]} of a (quantized, prefixed) model, in no-grad mode. */
    public static LastLogits lastLogits(PrefixedModel model) {
        return ids -> {
            try (GradMode.Scope s = GradMode.noGrad()) {
                Tensor logits = model.forward(ids, LlamaModel.Options.LOGITS_ONLY).logits();
                int v = logits.dim(1);
                return Arrays.copyOfRange(logits.data(), (ids.length - 1) * v, ids.length * v);
            }
        };
    }

    /** The limit L: the official 2048 tokens, or the model's context when shorter. */
    public static int maxLength(int maxPositionEmbeddings) {
        return Math.min(OFFICIAL_MAX_LENGTH, maxPositionEmbeddings);
    }

    /**
     * Positions the model runs for input {@code ids} with a prefix of ids {@code prefixIds} (null:
     * none), as {@link PrefixedModel} runs it: the input alone when it starts with the prefix ids
     * (they are replaced by the prefix), else the prefix in front of it.
     */
    public static int positions(int[] prefixIds, int[] ids) {
        if (prefixIds == null) {
            return ids.length;
        }
        boolean starts = ids.length >= prefixIds.length
                && Arrays.equals(ids, 0, prefixIds.length, prefixIds, 0, prefixIds.length);
        return starts ? ids.length : prefixIds.length + ids.length;
    }

    /**
     * {@code tokenizer(letter).input_ids[-1]} for the letters A.. of {@code n} choices. Refused
     * when a letter has no token or two letters end in the same token (the argmax could not tell
     * them apart).
     */
    public static int[] letterIds(Tokenizer tok, int n) {
        int[] out = new int[n];
        for (int c = 0; c < n; c++) {
            int[] ids = tok.encode(MmluFormat.letter(c), false);
            if (ids.length == 0) {
                throw new IllegalArgumentException("the tokenizer gives no token for the letter " + MmluFormat.letter(c));
            }
            out[c] = ids[ids.length - 1];
            for (int d = 0; d < c; d++) {
                if (out[d] == out[c]) {
                    throw new IllegalArgumentException("the letters " + MmluFormat.letter(d) + " and "
                            + MmluFormat.letter(c) + " end in the same token (id " + out[c] + ", '" + tok.piece(out[c])
                            + "'): --protocol mmlu-official cannot tell them apart");
                }
            }
        }
        return out;
    }

    /** One test item ready to run: its input ids, the shots that fit, its number of choices and label. */
    public record Query(String subject, String where, int[] ids, int shots, int choices, int label) {
        public Query {
            ids = ids.clone();
        }
    }

    /**
     * The input of every test item of {@code split} with {@code k} shots, each shortened by the
     * official rule until {@code positions} (of the ids) is at most {@code maxLength}; refused, by
     * the item's file and line, when even the 0-shot prompt is longer. Needs tokenization only,
     * so every item is checked before any model runs.
     */
    public static List<Query> queries(MmluSplit split, int k, Tokenizer tok, ToIntFunction<int[]> positions,
                                      int maxLength) {
        List<Query> out = new ArrayList<>();
        for (MmluSplit.Subject s : split.subjects()) {
            if (k > s.dev().size()) {
                throw new IllegalArgumentException(k + " shots asked (--mmlu-shots), but subject '" + s.name()
                        + "' has " + s.dev().size() + " dev items (--mmlu-dev)");
            }
            for (int i = 0; i < s.test().size(); i++) {
                McItem item = s.test().get(i);
                int shots = k;
                int[] ids = withBos(tok, MmluFormat.prompt(s.dev(), item, shots));
                while (positions.applyAsInt(ids) > maxLength) {
                    if (shots == 0) {
                        throw new IllegalArgumentException(s.testWhere().get(i) + ": the 0-shot prompt takes "
                                + positions.applyAsInt(ids) + " tokens, more than the limit of " + maxLength
                                + " (the official 2048, or the model's max_position_embeddings)");
                    }
                    shots--;
                    ids = withBos(tok, MmluFormat.prompt(s.dev(), item, shots));
                }
                out.add(new Query(s.name(), s.testWhere().get(i), ids, shots, item.choices().size(), item.label()));
            }
        }
        return out;
    }

    private static int[] withBos(Tokenizer tok, String text) {
        int[] t = tok.encode(text, false);
        int[] out = new int[t.length + 1];
        out[0] = tok.bosId();
        System.arraycopy(t, 0, out, 1, t.length);
        return out;
    }

    /** The outcome of one item: the softmax over its letters' logits, the predicted and the right index. */
    public record Answer(String subject, double[] probs, int predicted, int label, int shots) {
        public Answer {
            probs = probs.clone();
        }

        public boolean correct() {
            return predicted == label;
        }
    }

    /** Runs one query: the letters' logits at the last position, their softmax and its first argmax. */
    public static Answer answer(Query q, int[] letterIds, LastLogits model) {
        double[] z = model.next(q.ids());
        double[] logit = new double[q.choices()];
        int best = 0;
        for (int c = 0; c < q.choices(); c++) {
            logit[c] = z[letterIds[c]];
            if (!Double.isFinite(logit[c])) {
                throw new IllegalStateException(q.where() + ": the logit of letter " + MmluFormat.letter(c) + " is "
                        + logit[c] + " (a NaN or infinity in the model's logits)");
            }
            if (logit[c] > logit[best]) {
                best = c;
            }
        }
        return new Answer(q.subject(), softmax(logit, logit[best]), best, q.label(), q.shots());
    }

    /** {@code exp(x_c - max) / sum_j exp(x_j - max)}. */
    static double[] softmax(double[] x, double max) {
        double[] p = new double[x.length];
        double z = 0;
        for (int c = 0; c < x.length; c++) {
            p[c] = Math.exp(x[c] - max);
            z += p[c];
        }
        for (int c = 0; c < x.length; c++) {
            p[c] /= z;
        }
        return p;
    }

    /** {@link #answer} for every query, in order; {@code progress} gets the fraction done. */
    public static List<Answer> answerAll(List<Query> queries, int[] letterIds, LastLogits model,
                                         DoubleConsumer progress) {
        List<Answer> out = new ArrayList<>();
        for (int i = 0; i < queries.size(); i++) {
            out.add(answer(queries.get(i), letterIds, model));
            progress.accept((i + 1.0) / queries.size());
        }
        return out;
    }
}

package intactkv.train;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Synthetic Bigram-Backcopy (BB) sequences made from the training corpus's own statistics: the
 * toy task of Guo et al. 2024 ("Active-Dormant Attention Heads: Mechanistically Demystifying
 * Extreme-Token Phenomena in LLMs", section 2), in which attention heads grow the extreme-token
 * phenomena the IntactKV paper relies on (attention sinks on [BOS], small [BOS] values, a
 * massive [BOS] residual state).
 *
 * <p>A sequence is {@code [BOS] x_1 x_2 ... x_{T-1}} where {@code x_1} is drawn from the corpus's
 * unigram distribution and, for {@code i >= 1},
 * <pre>
 *   x_{i+1} = x_{i-1}                         if x_i is a trigger token and i >= 2   (back-copy)
 *   x_{i+1} ~ P(. | x_i)                      otherwise                              (bigram)
 * </pre>
 * with {@code P} the bigram counts of the training stream. At a non-trigger position the next
 * token depends on the current token only, so every attention head is useless there; at a
 * trigger some head must fetch the previous token. A head that is active at triggers and must
 * otherwise add nothing learns to park its attention on [BOS] (the only token that is the same
 * in every sequence) and to shrink [BOS]'s value: the active-dormant mechanism.
 *
 * <p>The triggers are the {@code triggers} most frequent tokens of the stream, [BOS] and the
 * newline token excluded, so they occur in natural text as well.
 */
public final class BigramBackcopy {
    private final int[] unigramIds;
    private final long[] unigramCum;
    private final int[][] nextIds;
    private final long[][] nextCum;
    private final boolean[] trigger;
    private final int[] triggerIds;

    /**
     * @param stream   the training token stream
     * @param vocab    vocabulary size (ids must lie in [0, vocab))
     * @param triggers  number of trigger tokens, at least 1
     * @param branching keep only each token's {@code branching} most frequent successors (0 = all), which
     *                  lowers the entropy of the bigram part so the back-copy dominates what is left to learn
     * @param exclude   ids never chosen as triggers (e.g. [BOS] and newline)
     */
    public BigramBackcopy(int[] stream, int vocab, int triggers, int branching, int... exclude) {
        if (branching < 0) {
            throw new IllegalArgumentException("backcopy branching must be >= 0: " + branching);
        }
        if (triggers < 1 || triggers >= vocab) {
            throw new IllegalArgumentException("backcopy triggers must be in [1, vocab): " + triggers);
        }
        if (stream.length < 2) {
            throw new IllegalArgumentException("backcopy needs a training stream of at least 2 tokens");
        }
        for (int i = 0; i < stream.length; i++) {
            if (stream[i] < 0 || stream[i] >= vocab) {
                throw new IllegalArgumentException("token id " + stream[i] + " at position " + i + " outside vocabulary "
                        + vocab);
            }
        }
        long[] uni = new long[vocab];
        long[][] pair = new long[vocab][];
        for (int i = 0; i < stream.length; i++) {
            int a = stream[i];
            uni[a]++;
            if (i + 1 < stream.length) {
                if (pair[a] == null) {
                    pair[a] = new long[vocab];
                }
                pair[a][stream[i + 1]]++;
            }
        }
        unigramIds = nonZero(uni);
        unigramCum = cumulative(uni, unigramIds);
        nextIds = new int[vocab][];
        nextCum = new long[vocab][];
        for (int a = 0; a < vocab; a++) {
            long[] row = pair[a] != null ? pair[a] : uni; // a token never followed by anything: fall back to unigram
            if (branching > 0) {
                row = topK(row, branching);
            }
            nextIds[a] = nonZero(row);
            nextCum[a] = cumulative(row, nextIds[a]);
        }
        trigger = new boolean[vocab];
        boolean[] skip = new boolean[vocab];
        for (int e : exclude) {
            if (e >= 0 && e < vocab) {
                skip[e] = true;
            }
        }
        triggerIds = Arrays.stream(byCountDescending(uni)).filter(i -> !skip[i] && uni[i] > 0).limit(triggers)
                .mapToInt(Integer::intValue).toArray();
        for (int t : triggerIds) {
            trigger[t] = true;
        }
    }

    /** The trigger token ids, most frequent first. */
    public int[] triggerIds() {
        return triggerIds.clone();
    }

    /** One sequence of {@code length} tokens starting with {@code bos}; see the class comment. */
    public int[] sample(Random rng, int length, int bos) {
        int[] w = new int[length];
        w[0] = bos;
        if (length > 1) {
            w[1] = draw(rng, unigramIds, unigramCum);
        }
        for (int i = 1; i + 1 < length; i++) {
            w[i + 1] = trigger[w[i]] && i >= 2 ? w[i - 1] : draw(rng, nextIds[w[i]], nextCum[w[i]]);
        }
        return w;
    }

    private static int draw(Random rng, int[] ids, long[] cum) {
        long r = (long) (rng.nextDouble() * cum[cum.length - 1]);
        int k = Arrays.binarySearch(cum, r + 1);
        return ids[k >= 0 ? k : -k - 1];
    }

    /** A copy of {@code counts} with all but the k largest entries (ties: lower id first) set to 0. */
    private static long[] topK(long[] counts, int k) {
        Integer[] order = byCountDescending(counts);
        long[] out = new long[counts.length];
        for (int r = 0; r < Math.min(k, order.length); r++) {
            out[order[r]] = counts[order[r]];
        }
        return out;
    }

    /** Ids sorted by count, largest first, ties by lower id. */
    private static Integer[] byCountDescending(long[] counts) {
        Integer[] order = new Integer[counts.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> counts[x] != counts[y] ? Long.compare(counts[y], counts[x]) : Integer.compare(x, y));
        return order;
    }

    /** The ids with a non-zero count, ascending. */
    private static int[] nonZero(long[] counts) {
        return IntStream.range(0, counts.length).filter(i -> counts[i] > 0).toArray();
    }

    private static long[] cumulative(long[] counts, int[] ids) {
        long[] cum = new long[ids.length];
        long s = 0;
        for (int k = 0; k < ids.length; k++) {
            s += counts[ids[k]];
            cum[k] = s;
        }
        return cum;
    }
}

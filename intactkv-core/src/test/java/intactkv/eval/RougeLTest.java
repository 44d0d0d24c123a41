package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** ROUGE-L: the LCS programme against hand-worked cases and a brute-force enumeration, and rouge-score's F-measure. */
class RougeLTest {
    /** Exact rationals computed in double: one rounding each, so 1e-15 is the tolerance. */
    static final double EXACT = 1e-15;

    /** Words as token ids, the same id for the same word (the test's own tokenizer). */
    static int[] ids(String text, Map<String, Integer> vocab) {
        return java.util.Arrays.stream(text.split(" ")).mapToInt(w -> vocab.computeIfAbsent(w, k -> vocab.size()))
                .toArray();
    }

    @Test
    void handWorkedCases() {
        // 1 2 3 4 5 against 1 3 5 6: LCS 1 3 5, P = 3/4, R = 3/5, F = 2 (3/4)(3/5) / (3/4 + 3/5) = 2/3
        RougeL.Score s = RougeL.score(new int[] {1, 2, 3, 4, 5}, new int[] {1, 3, 5, 6});
        assertEquals(0.75, s.precision(), EXACT);
        assertEquals(0.6, s.recall(), EXACT);
        assertEquals(2.0 / 3, s.fmeasure(), EXACT);
        // rouge-score's README example (lower-cased, punctuation dropped): LCS "the quick brown jumps the" = 5,
        // P = 5/8, R = 5/9, F = 50/85
        Map<String, Integer> v = new HashMap<>();
        int[] target = ids("the quick brown fox jumps over the lazy dog", v);
        int[] prediction = ids("the quick brown dog jumps on the log", v);
        assertEquals(5, RougeL.lcsLength(target, prediction));
        RougeL.Score r = RougeL.score(target, prediction);
        assertEquals(5.0 / 8, r.precision(), EXACT);
        assertEquals(5.0 / 9, r.recall(), EXACT);
        assertEquals(50.0 / 85, r.fmeasure(), EXACT);
        // identical: 1; nothing in common: 0 (P + R = 0); an empty side: 0, as rouge-score
        assertEquals(1.0, RougeL.score(new int[] {4, 4, 2}, new int[] {4, 4, 2}).fmeasure());
        assertEquals(0.0, RougeL.score(new int[] {1, 2}, new int[] {3, 4, 5}).fmeasure());
        assertEquals(new RougeL.Score(0, 0, 0), RougeL.score(new int[0], new int[] {1}));
        assertEquals(new RougeL.Score(0, 0, 0), RougeL.score(new int[] {1}, new int[0]));
        // order matters: a reversed sequence shares one token in order
        assertEquals(1, RougeL.lcsLength(new int[] {1, 2, 3}, new int[] {3, 2, 1}));
    }

    /** The longest subsequence of {@code a} (by enumerating all 2^|a| of them) that is also one of {@code b}. */
    static int bruteForceLcs(int[] a, int[] b) {
        int best = 0;
        for (int mask = 0; mask < 1 << a.length; mask++) {
            int j = 0;
            boolean sub = true;
            for (int i = 0; i < a.length && sub; i++) {
                if ((mask >> i & 1) == 1) {
                    while (j < b.length && b[j] != a[i]) {
                        j++;
                    }
                    sub = j < b.length;
                    j++;
                }
            }
            if (sub) {
                best = Math.max(best, Integer.bitCount(mask));
            }
        }
        return best;
    }

    /**
     * Property: on random sequences of up to 10 tokens over 1-4 symbols (many repeats, where an LCS
     * programme goes wrong), the programme's length is the brute force's, symmetric, and F is
     * 2 LCS / (|a| + |b|) (rouge-score's F from P and R, simplified), in [0, 1].
     */
    @Test
    void lcsIsTheBruteForceLongestCommonSubsequence() {
        qt().withFixedSeed(281).withExamples(3000)
                .forAll(integers().between(0, 10), integers().between(0, 10), integers().between(1, 4),
                        integers().between(0, Integer.MAX_VALUE))
                .checkAssert((n, m, symbols, seed) -> {
                    Random rng = new Random(seed);
                    int[] a = rng.ints(n, 0, symbols).toArray();
                    int[] b = rng.ints(m, 0, symbols).toArray();
                    int lcs = RougeL.lcsLength(a, b);
                    assertEquals(bruteForceLcs(a, b), lcs);
                    assertEquals(lcs, RougeL.lcsLength(b, a));
                    double f = RougeL.score(a, b).fmeasure();
                    // 2PR/(P+R) and 2L/(n+m) are the same rational, rounded differently: a few ulps
                    assertEquals(n == 0 || m == 0 ? 0 : 2.0 * lcs / (n + m), f, 1e-15);
                });
    }
}

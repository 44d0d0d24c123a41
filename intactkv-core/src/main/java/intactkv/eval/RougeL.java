package intactkv.eval;

/**
 * ROUGE-L between two token sequences: the length of their longest common subsequence (LCS),
 * and from it precision, recall and F-measure as the {@code rouge-score} package (Google
 * Research, {@code rouge_scorer.py::_score_lcs} with {@code scoring.fmeasure}) defines them:
 *
 * <pre>
 *   P = LCS / |prediction|,  R = LCS / |target|,  F = 2 P R / (P + R)  (0 when P + R = 0),
 *   and P = R = F = 0 when either sequence is empty.
 * </pre>
 *
 * The tokens are whatever the caller compares; {@link GenerationFidelity} gives the model's token
 * ids (token level, not rouge-score's lower-cased alphanumeric words), so two continuations that
 * decode to the same words through different tokens differ here.
 * Reference: {@code rouge_score/rouge_scorer.py::_score_lcs}, {@code _lcs_table}.
 */
public final class RougeL {
    private RougeL() {
    }

    /** Precision, recall and F-measure of one comparison, each in [0, 1]. */
    public record Score(double precision, double recall, double fmeasure) {
    }

    /**
     * The LCS length of {@code a} and {@code b} (neither modified), by the dynamic programme
     * {@code L[i][j] = L[i-1][j-1] + 1} if {@code a[i-1] == b[j-1]}, else
     * {@code max(L[i-1][j], L[i][j-1])}, kept in two rows: O(|a| |b|) time, O(|b|) memory.
     */
    public static int lcsLength(int[] a, int[] b) {
        int[] prev = new int[b.length + 1];
        int[] cur = new int[b.length + 1];
        for (int i = 1; i <= a.length; i++) {
            for (int j = 1; j <= b.length; j++) {
                cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length];
    }

    /** ROUGE-L of {@code prediction} against {@code target} (neither modified), as the class comment defines it. */
    public static Score score(int[] target, int[] prediction) {
        if (target.length == 0 || prediction.length == 0) {
            return new Score(0, 0, 0);
        }
        int lcs = lcsLength(target, prediction);
        double p = (double) lcs / prediction.length;
        double r = (double) lcs / target.length;
        return new Score(p, r, p + r > 0 ? 2 * p * r / (p + r) : 0);
    }
}

package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The sampler's actual draws follow its distribution: Pearson's chi-square goodness of fit of
 * seeded draws against {@link Sampler#distribution} for two fixture settings, tokens the warpers
 * removed never drawn, and the same seed giving the same draws.
 */
class SamplerDrawsTest {
    static final int N = 50_000;

    /**
     * chi^2 = sum_i (n_i - N p_i)^2 / (N p_i) over the kept tokens, with k - 1 degrees of freedom.
     * The thresholds are the chi-square upper quantiles at a false-alarm rate of 1e-6 (computed
     * with the regularised incomplete gamma function: df 4: 33.38, df 14: 54.64): a correct
     * sampler with an arbitrary seed fails one check with probability 1e-6. The seeds are fixed,
     * so the test is deterministic; every expected count is above 500, far past the usual
     * minimum of 5 for the approximation.
     */
    @Test
    void drawsPassChiSquareAgainstTheDistribution() throws Exception {
        check("sample-t1.3-topp0.9", 14, 54.64, 11);
        check("sample-t0.7-topk5", 4, 33.38, 12);
    }

    private static void check(String name, int df, double threshold, long seed) throws Exception {
        SamplerOracleTest.Case c = SamplerOracleTest.cases().stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow();
        Sampler s = new Sampler(c.config(), seed);
        double[] p = s.distribution(c.logits(), c.previous());
        int[] counts = new int[p.length];
        for (int i = 0; i < N; i++) {
            counts[s.next(c.logits(), c.previous(), c.previous().length)]++;
        }
        double chi2 = 0;
        int kept = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) {
                assertEquals(0, counts[i], name + ": token " + i + " was removed by the warpers but drawn");
                continue;
            }
            kept++;
            double e = N * p[i];
            assertTrue(e > 500, name + ": expected count " + e);
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
        }
        assertEquals(df + 1, kept, name + ": kept tokens");
        assertTrue(chi2 < threshold, name + ": chi-square " + chi2 + " >= " + threshold + " (df " + df + ") "
                + Arrays.toString(counts));
    }

    @Test
    void sameSeedSameDraws() {
        double[] logits = {0.0, 3.0, 2.9, -5.0, 1.0};
        GenerationConfig g = GenerationConfig.defaults().withDoSample(true).withTemperature(0.8);
        int[] a = new int[200];
        int[] b = new int[200];
        Sampler x = new Sampler(g, 5);
        Sampler y = new Sampler(g, 5);
        for (int i = 0; i < a.length; i++) {
            a[i] = x.next(logits);
            b[i] = y.next(logits);
        }
        assertArrayEquals(a, b);
        int[] other = new int[200];
        Sampler z = new Sampler(g, 6);
        for (int i = 0; i < other.length; i++) {
            other[i] = z.next(logits);
        }
        assertTrue(!Arrays.equals(a, other), "another seed draws otherwise");
    }
}

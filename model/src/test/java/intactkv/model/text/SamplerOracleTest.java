package intactkv.model.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The sampler's distribution against {@code tools/oracle/sampling_fixture.py}: for fixed logits
 * and previous tokens, fifteen settings (greedy with and without the repetition penalty, plain
 * softmax, transformers' default top-k 50, temperature, top-k, top-p alone and combined, a
 * penalty below 1, ties at the top-k threshold and at the argmax), each probability within
 * 1e-12 of the PyTorch float64 value.
 *
 * <p>Tolerance: both sides compute the same formulas in double; they differ only in the order of
 * the softmax sums (PyTorch's vectorised reduction, our loop) and in exp's last bit, a relative
 * error of about V * 2^-52, under 1e-14 for V = 32. A wrong processor order, keep set or penalty
 * moves some probability by more than 1e-4 here (the smallest kept probability in the fixture),
 * so 1e-12 separates rounding from a mistake by eight orders of magnitude. The script asserts no
 * top-p decision lies within 1e-9 of its cut, so rounding cannot flip a keep set.
 */
class SamplerOracleTest {
    /** One fixture line. */
    record Case(String name, GenerationConfig config, double[] logits, int[] previous, double[] probabilities) {
    }

    static List<Case> cases() throws IOException, URISyntaxException {
        Path f = Path.of(SamplerOracleTest.class.getResource("/oracle/sampling/sampling.tsv").toURI());
        List<Case> out = new ArrayList<>();
        for (String line : Files.readAllLines(f)) {
            if (line.startsWith("#")) {
                continue;
            }
            String[] c = line.split("\t", -1);
            GenerationConfig g = new GenerationConfig(Boolean.parseBoolean(c[1]), Double.parseDouble(c[2]),
                    Integer.parseInt(c[3]), Double.parseDouble(c[4]), Double.parseDouble(c[5]), new int[0], null);
            out.add(new Case(c[0], g, doubles(c[6]), c[7].isEmpty() ? new int[0]
                    : Arrays.stream(c[7].split(",")).mapToInt(Integer::parseInt).toArray(), doubles(c[8])));
        }
        return out;
    }

    private static double[] doubles(String s) {
        return Arrays.stream(s.split(",")).mapToDouble(Double::parseDouble).toArray();
    }

    @Test
    void distributionsMatchTheWarpersDefinitions() throws Exception {
        List<Case> cases = cases();
        assertEquals(15, cases.size(), "fixture lines");
        double worst = 0;
        for (Case c : cases) {
            double[] p = new Sampler(c.config(), 0).distribution(c.logits(), c.previous());
            assertEquals(c.probabilities().length, p.length, c.name());
            for (int i = 0; i < p.length; i++) {
                double err = Math.abs(p[i] - c.probabilities()[i]);
                worst = Math.max(worst, err);
                assertTrue(err <= 1e-12, c.name() + " token " + i + ": " + p[i] + " vs " + c.probabilities()[i]);
                assertEquals(c.probabilities()[i] == 0, p[i] == 0, c.name() + " token " + i + ": same keep set");
            }
        }
        assertTrue(worst <= 1e-12, "worst " + worst);
    }

    /** Greedy: the token of the distribution's one is what next() returns, penalty included. */
    @Test
    void greedyNextIsTheOneHotToken() throws Exception {
        for (Case c : cases()) {
            if (!c.config().greedy()) {
                continue;
            }
            int expected = 0;
            while (c.probabilities()[expected] != 1.0) {
                expected++;
            }
            assertEquals(expected, new Sampler(c.config(), 1).next(c.logits(), c.previous(), c.previous().length),
                    c.name());
        }
    }
}

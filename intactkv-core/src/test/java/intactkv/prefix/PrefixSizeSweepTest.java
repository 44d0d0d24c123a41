package intactkv.prefix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaModel;
import intactkv.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Figure 2's official protocol ({@code intactkv_motivation.py}) in {@link PrefixSizeSweep}. */
class PrefixSizeSweepTest {
    static final int K = 4;

    static List<int[]> samples(int[] prompt) {
        List<int[]> out = new ArrayList<>();
        for (int s = 0; s < 2; s++) {
            int[] ids = IntactKvTest.tokens(14 + s, 30 + s);
            System.arraycopy(prompt, 0, ids, 0, prompt.length);
            out.add(ids);
        }
        return out;
    }

    /**
     * Size 0 against plain forward passes of both models over the whole samples (no prefix
     * code involved): per layer 0.5 * mean over positions >= K and channels, summed over
     * layers, averaged over samples.
     */
    @Test
    void sizeZeroIsTheQuantizedModelsOwnError() {
        LlamaModel fp = IntactKvTest.fp();
        LlamaModel q = PrefixCalibratorTest.quantized(fp);
        int[] prompt = IntactKvTest.tokens(6, 11);
        List<int[]> samples = samples(prompt);
        List<Integer> progress = new ArrayList<>();
        List<PrefixSizeSweep.Point> pts = PrefixSizeSweep.run(fp, fp, q, prompt, K, samples, (d, t) -> progress.add(d));
        assertEquals(List.of(1, 2), progress);
        assertEquals(K + 1, pts.size());
        double total = 0;
        double last = 0;
        for (int[] ids : samples) {
            List<Tensor> a = PivotAnalysis.hiddenStates(fp, ids);
            List<Tensor> b = PivotAnalysis.hiddenStates(q, ids);
            for (int l = 0; l < a.size(); l++) {
                double s = 0;
                int d = a.get(l).dim(1);
                for (int t = K; t < ids.length; t++) {
                    for (int c = 0; c < d; c++) {
                        double e = b.get(l).get(t, c) - a.get(l).get(t, c);
                        s += e * e;
                    }
                }
                double layer = 0.5 * s / ((ids.length - K) * d);
                total += layer / samples.size();
                if (l == a.size() - 1) {
                    last += layer / samples.size();
                }
            }
        }
        // same sums in another order: a few ulps
        assertEquals(total, pts.get(0).total(), 1e-12 * total);
        assertEquals(last, pts.get(0).lastLayer(), 1e-12 * last);
        for (PrefixSizeSweep.Point p : pts) {
            assertTrue(p.total() >= p.lastLayer() && p.lastLayer() > 0, p.toString());
        }
    }

    /**
     * The full-precision model with prefixes of its own computes the same layer outputs as
     * without them, so every size's loss is zero up to rounding (an off-by-k row would not be).
     */
    @Test
    void theFullPrecisionModelLosesNothingAtAnySize() {
        LlamaModel fp = IntactKvTest.fp();
        int[] prompt = IntactKvTest.tokens(6, 11);
        for (PrefixSizeSweep.Point p : PrefixSizeSweep.run(fp, fp, fp, prompt, 6, samples(prompt), (d, t) -> { })) {
            // hidden states of order 1 agree to ~1e-15: squared errors ~1e-30
            assertTrue(p.total() < 1e-24, p.toString());
        }
    }

    @Test
    void sweepsTheSamplesCannotSupportAreRefused() {
        int[] prompt = IntactKvTest.tokens(6, 11);
        List<int[]> samples = samples(prompt);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PrefixSizeSweep.check(prompt, 7, samples));
        assertTrue(e.getMessage().contains("--max-prefix 7 is outside 0..6"), e.getMessage());
        int[] other = samples.get(1).clone();
        other[2]++;
        e = assertThrows(IllegalArgumentException.class, () -> PrefixSizeSweep.check(prompt, 3, List.of(other)));
        assertTrue(e.getMessage().contains("sample 0"), e.getMessage());
        PrefixSizeSweep.check(prompt, 2, List.of(other));
        e = assertThrows(IllegalArgumentException.class, () -> PrefixSizeSweep.check(prompt, 6, List.of(prompt)));
        assertTrue(e.getMessage().contains("at least one more token"), e.getMessage());
    }
}

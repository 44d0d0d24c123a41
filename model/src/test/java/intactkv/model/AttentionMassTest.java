package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The attention measures on hand-built attention maps. */
class AttentionMassTest {
    /**
     * One layer, two heads, four tokens (ids 1 7 5 7): head 0 puts everything on [BOS], head 1
     * on the most recent token 7 (query 3 on itself, query 2 on key 1).
     */
    private static List<Tensor> maps() {
        double[] a = new double[2 * 4 * 4];
        for (int q = 0; q < 4; q++) {
            a[q * 4] = 1.0;
        }
        int h1 = 16;
        a[h1] = 1.0;
        a[h1 + 4 + 1] = 1.0;
        a[h1 + 8 + 1] = 1.0;
        a[h1 + 12 + 3] = 1.0;
        return List.of(Tensor.wrap(a, 1, 2, 4, 4));
    }

    @Test
    void firstKeysAndSinkHeads() {
        double[][][] m = AttentionMass.onFirstKeys(maps(), 2, 2);
        assertEquals(1.0, m[0][0][0]);
        assertEquals(0.0, m[0][1][0]);
        assertEquals(0.5, m[0][1][1]); // query 2 on key 1; query 3 on key 3
        assertEquals(1, AttentionMass.sinkHeads(m[0]));
    }

    @Test
    void attentionByKeyTokenSumsOverEveryOccurrence() {
        int[] ids = {1, 7, 5, 7};
        List<List<Map<Integer, Double>>> t = AttentionMass.onKeyTokens(maps(), ids, 2);
        assertEquals(Map.of(1, 1.0, 7, 0.0, 5, 0.0), t.get(0).get(0));
        // head 1: query 2 on key 1 (id 7), query 3 on key 3 (id 7): all its attention on token 7
        assertEquals(1.0, t.get(0).get(1).get(7));
        assertEquals(0.0, t.get(0).get(1).get(1));
        assertThrows(IllegalArgumentException.class, () -> AttentionMass.onKeyTokens(maps(), new int[] {1, 2}, 1));
        assertThrows(IllegalArgumentException.class, () -> AttentionMass.onKeyTokens(maps(), ids, 4));
    }
}

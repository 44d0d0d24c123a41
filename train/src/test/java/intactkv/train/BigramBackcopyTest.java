package intactkv.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class BigramBackcopyTest {
    /**
     * A stream over ids 2..7 in which 2 is always followed by 3, 3 by 4 or 5, and id 6 is the most
     * frequent token; 0 plays [BOS] and 1 the excluded newline.
     */
    static int[] stream() {
        Random r = new Random(5);
        int[] s = new int[4000];
        for (int i = 0; i < s.length; i++) {
            int prev = i == 0 ? 6 : s[i - 1];
            s[i] = prev == 2 ? 3 : prev == 3 ? 4 + r.nextInt(2) : r.nextInt(4) == 0 ? 2 : r.nextInt(3) == 0 ? 1
                    : r.nextInt(2) == 0 ? 6 : 7;
        }
        return s;
    }

    @Test
    void triggersAreTheMostFrequentTokensWithoutExcludedOnes() {
        int[] s = stream();
        long[] count = new long[8];
        for (int x : s) {
            count[x]++;
        }
        int[] t = new BigramBackcopy(s, 8, 2, 0, 0, 1).triggerIds();
        assertEquals(2, t.length);
        for (int id = 2; id < 8; id++) {
            if (id != t[0] && id != t[1]) {
                assertTrue(count[id] <= count[t[1]], "token " + id + " is more frequent than trigger " + t[1]);
            }
        }
        assertTrue(count[t[0]] >= count[t[1]]);
        assertTrue(t[0] != 1 && t[1] != 1, "newline excluded");
    }

    /** After a trigger the previous token is copied; elsewhere only transitions seen in the stream occur. */
    @Test
    void followsTheBackcopyRuleAndTheBigramSupport() {
        int[] s = stream();
        boolean[][] seen = new boolean[8][8];
        for (int i = 0; i + 1 < s.length; i++) {
            seen[s[i]][s[i + 1]] = true;
        }
        BigramBackcopy bb = new BigramBackcopy(s, 8, 1, 0, 0, 1);
        int trig = bb.triggerIds()[0];
        Random rng = new Random(11);
        int copies = 0;
        for (int n = 0; n < 200; n++) {
            int[] w = bb.sample(rng, 64, 0);
            assertEquals(0, w[0]);
            for (int i = 1; i + 1 < w.length; i++) {
                if (w[i] == trig && i >= 2) {
                    assertEquals(w[i - 1], w[i + 1], "back-copy after the trigger at " + i);
                    copies++;
                } else {
                    assertTrue(seen[w[i]][w[i + 1]], "unseen bigram " + w[i] + " -> " + w[i + 1]);
                }
            }
        }
        assertTrue(copies > 100, "triggers occur: " + copies);
        // 2 is always followed by 3 in the stream
        int[] w = bb.sample(new Random(3), 400, 0);
        for (int i = 1; i + 1 < w.length; i++) {
            if (w[i] == 2 && trig != 2) {
                assertEquals(3, w[i + 1]);
            }
        }
    }

    @Test
    void isDeterministicForASeedAndRejectsBadInput() {
        BigramBackcopy bb = new BigramBackcopy(stream(), 8, 2, 0, 0, 1);
        assertArrayEquals(bb.sample(new Random(9), 50, 0), bb.sample(new Random(9), 50, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BigramBackcopy(new int[] {1, 2, 9}, 8, 1, 0));
        assertTrue(e.getMessage().contains("token id 9"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BigramBackcopy(stream(), 8, 0, 0));
    }
}

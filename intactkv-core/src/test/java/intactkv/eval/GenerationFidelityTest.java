package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.eval.GenerationFidelity.PromptScore;
import intactkv.eval.GenerationFidelity.Settings;
import intactkv.eval.GenerationFidelity.Summary;
import intactkv.model.text.Generator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The generation-fidelity measures on hand-worked cases: prompts, the compared continuation, scores and their means. */
class GenerationFidelityTest {
    /** Means of a few small numbers: exact up to one or two roundings. */
    static final double EXACT = 1e-15;

    @Test
    void promptsAreTheFirstLinesLongerThanKWordsCutToK() {
        List<String> lines = List.of("a b c", "one  two three four five", "", " x y z w ", "p q r s t u");
        assertEquals(List.of("one two three", "x y z"), GenerationFidelity.prompts(lines, new Settings(2, 3, 5), "t.txt"));
        assertEquals(List.of("one two three", "x y z", "p q r"),
                GenerationFidelity.prompts(lines, new Settings(3, 3, 5), "t.txt"));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> GenerationFidelity.prompts(lines, new Settings(1, 6, 5), "t.txt"));
        assertEquals("--prompt-words 6: no line of t.txt has more than 6 words (the longest has 6); use fewer"
                + " --prompt-words", none.getMessage());
        IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
                () -> GenerationFidelity.prompts(lines, new Settings(4, 3, 5), "t.txt"));
        assertTrue(few.getMessage().startsWith("--prompts 4: only 3 lines of t.txt have more than 3 words"),
                few.getMessage());
    }

    @Test
    void settingsRefuseCountsBelowOne() {
        assertThrows(IllegalArgumentException.class, () -> new Settings(0, 4, 16));
        assertThrows(IllegalArgumentException.class, () -> new Settings(4, 0, 16));
        assertThrows(IllegalArgumentException.class, () -> new Settings(4, 4, 0));
    }

    @Test
    void eosIsComparedAsAToken() {
        int eos = 2;
        assertArrayEquals(new int[] {7, 8, 2}, GenerationFidelity.compared(new Generator.Result(new int[] {7, 8}, "",
                "eos"), eos));
        assertArrayEquals(new int[] {7, 8}, GenerationFidelity.compared(new Generator.Result(new int[] {7, 8}, "",
                "max-tokens"), eos));
        // stopping where the reference goes on is a divergence at that position
        PromptScore s = GenerationFidelity.score(new int[] {7, 8, 9}, new int[] {7, 8, 2});
        assertFalse(s.identical());
        assertEquals(2, s.agreed());
    }

    @Test
    void scoresOfHandCases() {
        // reference 5 6 7 2 ([EOS] last), candidate 5 6 8: two tokens agreed; LCS 2, P 2/3, R 2/4, F = 4/7
        PromptScore s = GenerationFidelity.score(new int[] {5, 6, 7, 2}, new int[] {5, 6, 8});
        assertFalse(s.identical());
        assertEquals(2, s.agreed());
        assertEquals(4.0 / 7, s.rougeL(), EXACT);
        assertEquals(new PromptScore(true, 3, 1.0), GenerationFidelity.score(new int[] {1, 2, 3}, new int[] {1, 2, 3}));
        // the first token differs, the rest is the same: nothing agreed, ROUGE-L still sees the common tail
        PromptScore late = GenerationFidelity.score(new int[] {9, 2, 3}, new int[] {4, 2, 3});
        assertEquals(0, late.agreed());
        assertEquals(2.0 / 3, late.rougeL(), EXACT);
        // a prefix of the reference: agreed as far as it goes, not identical
        assertEquals(2, GenerationFidelity.agreed(new int[] {1, 2, 3}, new int[] {1, 2}));
        assertFalse(GenerationFidelity.score(new int[] {1, 2, 3}, new int[] {1, 2}).identical());
    }

    @Test
    void meansStandardErrorsAndPairedDifferences() {
        List<PromptScore> without = List.of(new PromptScore(false, 1, 0.5), new PromptScore(false, 0, 0.25),
                new PromptScore(true, 4, 1), new PromptScore(false, 3, 0.75));
        List<PromptScore> with = List.of(new PromptScore(true, 4, 1), new PromptScore(false, 2, 0.5),
                new PromptScore(true, 4, 1), new PromptScore(false, 3, 0.75));
        Summary s = GenerationFidelity.summarize(with);
        assertEquals(4, s.prompts());
        // identical 1 0 1 0: mean 1/2, sample variance 1/3, standard error sqrt(1/3) / 2
        assertEquals(0.5, s.identical().mean(), EXACT);
        assertEquals(Math.sqrt(1.0 / 3) / 2, s.identical().stderr(), EXACT);
        // agreed 4 2 4 3: mean 13/4; ROUGE-L 1 0.5 1 0.75: mean 13/16
        assertEquals(13.0 / 4, s.agreed().mean(), EXACT);
        assertEquals(13.0 / 16, s.rougeL().mean(), EXACT);
        // paired, with - without: identical 1 0 0 0, agreed 3 2 0 0, ROUGE-L 0.5 0.25 0 0
        Summary d = GenerationFidelity.difference(without, with);
        assertEquals(0.25, d.identical().mean(), EXACT);
        assertEquals(1.25, d.agreed().mean(), EXACT);
        // agreed differences 3 2 0 0: deviations 1.75 0.75 -1.25 -1.25, sum of squares 6.75, variance 2.25, se 0.75
        assertEquals(0.75, d.agreed().stderr(), EXACT);
        assertEquals(0.1875, d.rougeL().mean(), EXACT);
        // 1.25 <= 2 x 0.75: the prompts cannot tell it from zero; a difference over two standard errors is marked
        assertTrue(d.agreed().withinTwoStderr());
        assertFalse(new GenerationFidelity.Stat(1.6, 0.75).withinTwoStderr());
        assertThrows(IllegalArgumentException.class, () -> GenerationFidelity.difference(without, with.subList(0, 3)));
    }
}

package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.text.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each loader on a hand-worked tiny case with a toy tokenizer ({@code calibration/tokenizer.json}:
 * {@code <s>} = 1, "▁" = 259, "a" = 260, "b" = 261, "ab" = 262, byte tokens {@code <0xNN>} = 3 + NN;
 * the post-processor puts {@code <s>} first, so "ab ab" is [1, 259, 262, 259, 262]), and the
 * refusals, which name the data, the loader and the numbers.
 *
 * <p>The expected draws are CPython's: {@code random.seed(42)} then the official loop over the
 * token counts [3, 9, 3] with T = 4 draws the documents 2, 0, 0, 2, 1 (the first four too short)
 * and the offset {@code randint(0, 4)} = 1; then 0, 0, 2, 0, 2, 2, 2, 0, 2, 1 and offset 0; then
 * ten short draws, 1, offset 1. {@code random.seed(42); shuffle([0, 1, 2, 3])} gives [2, 1, 3, 0];
 * {@code random.seed(0)} then {@code randint(0, 2)} three times gives 1, 1, 0.
 */
class CalibrationLoadersTest {
    static Tokenizer tok;

    @BeforeAll
    static void load() throws Exception {
        tok = Tokenizer.load(Path.of(CalibrationLoadersTest.class.getResource("/calibration/tokenizer.json").toURI()));
    }

    @Test
    void toyTokenizerAsTheJavadocSays() {
        assertArrayEquals(new int[] {1, 259, 262, 259, 262}, tok.encode("ab ab"));
        assertArrayEquals(new int[] {1, 259, 260, 13, 13, 261}, tok.encode("a\n\nb"), "newlines are byte tokens");
    }

    @Test
    void gptqDrawsRandomDocumentsLongEnoughAndRandomOffsets() {
        List<String> docs = List.of("a", "ab ab ab ab", "b"); // 3, 9, 3 tokens
        List<int[]> w = Calibration.load(Method.GPTQ, tok, docs, 3, 4, null, false, "toy.txt");
        assertEquals(3, w.size());
        assertArrayEquals(new int[] {259, 262, 259, 262}, w.get(0), "document 1 at offset 1");
        assertArrayEquals(new int[] {1, 259, 262, 259}, w.get(1), "document 1 at offset 0: [BOS] only because the document starts there");
        assertArrayEquals(new int[] {259, 262, 259, 262}, w.get(2), "document 1 at offset 1");
        assertEquals(List.of(new RandomDocumentWindows.Pick(1, 1), new RandomDocumentWindows.Pick(1, 0),
                new RandomDocumentWindows.Pick(1, 1)),
                RandomDocumentWindows.pick(3, d -> tok.encode(docs.get(d)), 3, 4, 42, "toy.txt"));
        // explicit official seed = default; another seed draws otherwise
        assertEquals(toList(w), toList(Calibration.load(Method.GPTQ, tok, docs, 3, 4, 42L, false, "toy.txt")));
        assertNotEquals(toList(w), toList(Calibration.load(Method.GPTQ, tok, docs, 3, 4, 5L, false, "toy.txt")));
    }

    @Test
    void gptqPassesOverDocumentsOfExactlyTheWindowLength() {
        // "a" and "b" have exactly 3 tokens: upstream would accept them and fail in randint(0, -1)
        List<RandomDocumentWindows.Pick> picks = RandomDocumentWindows.pick(3,
                d -> tok.encode(List.of("a", "ab ab ab ab", "b").get(d)), 40, 3, 42, "toy.txt");
        assertTrue(picks.stream().allMatch(p -> p.document() == 1 && p.offset() >= 0 && p.offset() <= 5), picks.toString());
    }

    @Test
    void gptqRefusesDocumentsAllShorterThanTheWindow() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.GPTQ, tok, List.of("a", "ab ab ab ab", "b"), 4, 9, null, false, "toy.txt"));
        assertMessage(e, "toy.txt", "gptq", "more than 9 tokens", "longest of its 3 documents has 9");
    }

    @Test
    void awqKeepsShortStrippedDocumentsInShuffledOrderAndCutsBlocks() {
        // order [2, 1, 3, 0]: document 2 (601 tokens) is passed over, 1 and 3 are kept
        List<String> docs = List.of("  a  ", "b", "ab ".repeat(300), "\u00a0ab\u00a0");
        List<int[]> blocks = Calibration.load(Method.AWQ, tok, docs, 2, 4, null, false, "toy.txt");
        assertEquals(List.of(2, 1, 3, 0), ShortDocumentBlocks.order(4, 42));
        assertEquals(1, blocks.size(), "6 tokens make one block of 4; the rest is dropped");
        assertArrayEquals(new int[] {1, 259, 261, 1}, blocks.get(0), "each document brings its [BOS]");
        // a block of 3: two blocks, each starting where a document starts; U+00A0 was stripped as Python does
        List<int[]> three = Calibration.load(Method.AWQ, tok, docs, 2, 3, null, false, "toy.txt");
        assertArrayEquals(new int[] {1, 259, 261}, three.get(0));
        assertArrayEquals(new int[] {1, 259, 262}, three.get(1));
    }

    @Test
    void awqRefusesTooFewShortDocumentsOrTooFewTokens() {
        List<String> docs = List.of("  a  ", "b", "ab ".repeat(300), "\u00a0ab\u00a0");
        IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.AWQ, tok, docs, 4, 4, null, false, "toy.txt"));
        assertMessage(few, "toy.txt", "awq", "needs 4 documents of 1..512 tokens", "only 3 of its 4", "1 longer");
        IllegalArgumentException tokens = assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.AWQ, tok, docs, 3, 64, null, false, "toy.txt"));
        assertMessage(tokens, "toy.txt", "awq", "blocks of 64", "3 documents kept have 9 tokens");
    }

    @Test
    void pythonStripIsStrIsspace() {
        // the 29 characters of CPython 3.11's str.isspace() (all in the BMP)
        int[] space = {0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
            0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000};
        int n = 0;
        for (int c = 0; c <= 0xffff; c++) {
            boolean expected = java.util.Arrays.binarySearch(space, c) >= 0;
            assertEquals(expected, ShortDocumentBlocks.isPythonSpace((char) c), Integer.toHexString(c));
            n += expected ? 1 : 0;
        }
        assertEquals(space.length, n);
        assertEquals("a \u200b b", ShortDocumentBlocks.pythonStrip("\u0085\u3000 a \u200b b\u00a0\n"), "U+200B is not white space");
        assertEquals("", ShortDocumentBlocks.pythonStrip(" \u2007 "));
    }

    @Test
    void quarotAndOmniquantTakeRandomWindowsOfTheJoinedText() {
        List<String> docs = List.of("a", "b"); // "a\n\nb" = [1, 259, 260, 13, 13, 261]
        List<int[]> q = Calibration.load(Method.QUAROT, tok, docs, 3, 3, null, false, "toy.txt");
        assertArrayEquals(new int[] {259, 260, 13}, q.get(0), "offset 1");
        assertArrayEquals(new int[] {259, 260, 13}, q.get(1), "offset 1");
        assertArrayEquals(new int[] {1, 259, 260}, q.get(2), "offset 0");
        assertArrayEquals(JoinedTextWindows.offsets(6, 3, 3, 2, CalibrationLoader.OMNIQUANT, "toy.txt"),
                Calibration.load(Method.OMNIQUANT, tok, docs, 3, 3, null, false, "toy.txt").stream()
                        .mapToInt(w -> w[0] == 1 ? 0 : w[1] == 260 ? 1 : 2).toArray(), "omniquant's seed 2");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.QUAROT, tok, docs, 3, 6, null, false, "toy.txt"));
        assertMessage(e, "toy.txt", "quarot", "more than 6 tokens", "has 6");
    }

    @Test
    void bosFirstIsTheEarlierLoader() {
        List<String> docs = List.of("ab a b", "b ab a", "a a b");
        List<int[]> w = Calibration.load(Method.AWQ, tok, docs, 5, 4, null, true, "toy.txt");
        assertEquals(toList(Calibration.windows(tok, "ab a b\n\nb ab a\n\na a b", 5, 4, 42, "toy.txt")), toList(w));
        assertTrue(w.stream().allMatch(x -> x[0] == 1), "every window starts with [BOS]");
        String text = "ab a b\nb ab a\na a b\n";
        assertEquals(toList(Calibration.windows(tok, text, 5, 4, 7, "toy.txt")),
                toList(Calibration.load(Method.GPTQ, tok, text, DocumentSplit.AUTO, 5, 4, 7L, true, "toy.txt")),
                "from the text: the text as read, bit for bit");
        assertEquals(toList(Calibration.load(Method.GPTQ, tok, List.of(text), 5, 4, null, false, "toy.txt")),
                toList(Calibration.load(Method.GPTQ, tok, text, DocumentSplit.FILE, 5, 4, null, false, "toy.txt")));
    }

    @Test
    void sizesAndMethodsWithoutCalibrationAreRefused() {
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.RTN, tok, List.of("a"), 1, 2, null, false, "toy.txt")), "rtn", "no calibration");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.GPTQ, tok, List.of("a"), 0, 2, null, false, "toy.txt")), "gptq", "0 x 2");
        assertMessage(assertThrows(IllegalArgumentException.class,
                () -> Calibration.load(Method.QUAROT, tok, List.of(), 1, 2, null, false, "toy.txt")), "toy.txt", "no documents");
    }

    private static void assertMessage(Exception e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message names '" + p + "': " + e.getMessage());
        }
    }

    private static List<List<Integer>> toList(List<int[]> ws) {
        return ws.stream().map(w -> java.util.Arrays.stream(w).boxed().toList()).toList();
    }
}

package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dev/test split per subject: the first items of a subject in file order are its shots. */
class MmluSplitTest {
    /** Items of two subjects interleaved in the file: virology first, anatomy second. */
    static McItem.Task interleaved() {
        List<McItem> items = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            items.add(MmluFormatTest.item("Q" + i + "?", i % 4, i % 2 == 0 ? "virology" : "anatomy"));
        }
        return McItem.Task.of("t", items);
    }

    static List<String> questions(List<McItem> items) {
        return items.stream().map(x -> x.context().substring(0, x.context().indexOf('?'))).toList();
    }

    @Test
    void firstItemsOfEachSubjectAreTheDevSplit() {
        MmluSplit s = MmluSplit.of(interleaved(), 2, null);
        assertEquals(2, s.subjects().size());
        MmluSplit.Subject anatomy = s.subjects().get(0);
        assertEquals("anatomy", anatomy.name(), "subjects sorted by name, as sorted(subjects)");
        assertEquals(List.of("Q1", "Q3"), questions(anatomy.dev()));
        assertEquals(List.of("Q5", "Q7"), questions(anatomy.test()));
        assertEquals(List.of("t item 5", "t item 7"), anatomy.testWhere());
        assertEquals(List.of("Q0", "Q2"), questions(s.subjects().get(1).dev()));
        assertEquals(4, s.testItems());
        MmluSplit none = MmluSplit.of(interleaved(), 0, null);
        assertEquals(8, none.testItems(), "no dev split: every item is scored");
    }

    @Test
    void limitKeepsTheFirstTestItemsOfTheFile() {
        // test items in file order: Q4 (virology), Q5 (anatomy), Q6, Q7; the first three are kept
        MmluSplit s = MmluSplit.of(interleaved(), 2, 3);
        assertEquals(List.of("Q5"), questions(s.subjects().get(0).test()));
        assertEquals(List.of("Q4", "Q6"), questions(s.subjects().get(1).test()));
        MmluSplit one = MmluSplit.of(interleaved(), 2, 1);
        assertEquals(1, one.subjects().size(), "a subject left without test items is dropped");
        assertEquals("virology", one.subjects().get(0).name());
    }

    @Test
    void tooFewItemsAndBadItemsAreRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MmluSplit.of(interleaved(), 4, null));
        assertTrue(e.getMessage().contains("subject 'anatomy' has 4 items") && e.getMessage().contains("--mmlu-dev 4")
                && e.getMessage().contains("t item 1"), e.getMessage());
        List<McItem> items = new ArrayList<>(interleaved().items());
        items.set(6, new McItem("Q6?\nAnswer:", List.of(" True", " False"), 0, "virology"));
        e = assertThrows(IllegalArgumentException.class, () -> MmluSplit.of(McItem.Task.of("t", items), 2, null));
        assertTrue(e.getMessage().startsWith("t item 6: ") && e.getMessage().contains("single letters"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MmluSplit.of(interleaved(), -1, null));
        assertThrows(IllegalArgumentException.class, () -> MmluSplit.of(interleaved(), 2, 0));
    }
}

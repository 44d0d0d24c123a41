package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The official report: groups are means over their items, the overall accuracy weighs subjects by items. */
class MmluReportTest {
    static MmluOfficial.Answer answer(String subject, boolean right, int shots) {
        return new MmluOfficial.Answer(subject, new double[] {0.5, 0.5}, right ? 0 : 1, 0, shots);
    }

    @Test
    void accuraciesAreWeightedByItems() {
        List<MmluOfficial.Answer> a = new ArrayList<>();
        a.add(answer("anatomy", true, 5));
        a.add(answer("anatomy", false, 5));
        a.add(answer("anatomy", false, 3));
        a.add(answer("college_physics", true, 5));
        a.add(answer("virology", true, 5));
        a.add(answer("my_own_subject", false, 4));
        MmluReport r = MmluReport.of(5, a);
        assertEquals(List.of("anatomy", "college_physics", "virology", "my_own_subject"),
                List.copyOf(r.subjects().keySet()));
        assertEquals(1.0 / 3, r.subjects().get("anatomy").acc(), 0.0);
        // 3 of 6 items right: 0.5, not the mean of the subject accuracies (1/3 + 1 + 1 + 0) / 4
        assertEquals(6, r.overall().items());
        assertEquals(0.5, r.overall().acc(), 0.0);
        // anatomy and virology are "health", college_physics "physics"; the official order puts health first
        assertEquals(List.of("health", "physics"), List.copyOf(r.subcategories().keySet()));
        assertEquals(new MmluReport.Group(4, 2), r.subcategories().get("health"));
        assertEquals(List.of("STEM", "other (business, health, misc.)"), List.copyOf(r.categories().keySet()));
        assertEquals(new MmluReport.Group(1, 1), r.categories().get("STEM"));
        assertEquals(new MmluReport.Group(4, 2), r.categories().get("other (business, health, misc.)"));
        assertEquals(2, r.shortened(), "two items ran with fewer than 5 shots");
    }

    @Test
    void theTableHasTheOfficialSubjectsAndGroups() {
        assertEquals(57, MmluCategories.subjects());
        assertEquals(17, MmluCategories.subcategories().size());
        assertEquals("math", MmluCategories.subcategory("abstract_algebra"));
        assertEquals("philosophy", MmluCategories.subcategory("world_religions"));
        assertEquals("humanities", MmluCategories.category("law"));
        assertEquals("social sciences", MmluCategories.category("geography"));
        for (String s : MmluCategories.subcategories()) {
            assertEquals(true, MmluCategories.category(s) != null, "every subcategory has a category: " + s);
        }
        assertEquals(null, MmluCategories.subcategory("gloss"));
    }
}

package intactkv.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The official MMLU prompt text, compared with strings written by hand from reading eval_utils/mmlu.py. */
class MmluFormatTest {
    static McItem item(String question, int label, String subject) {
        return new McItem(question + "\nA. one\nB. two\nC. three\nD. four\nAnswer:", List.of(" A", " B", " C", " D"),
                label, subject);
    }

    @Test
    void twoShotPromptIsTheOfficialText() {
        String s = "college_computer_science";
        List<McItem> dev = List.of(item("Which is first?", 0, s), item("Which is last?", 3, s), item("Unused?", 1, s));
        // gen_prompt(dev_df, subject, 2) + format_example(test_df, i, include_answer=False), by hand:
        // the header's format_subject puts a space before every part, hence "about  college"
        String expected = "The following are multiple choice questions (with answers) about  college computer science.\n\n"
                + "Which is first?\nA. one\nB. two\nC. three\nD. four\nAnswer: A\n\n"
                + "Which is last?\nA. one\nB. two\nC. three\nD. four\nAnswer: D\n\n"
                + "Which is second?\nA. one\nB. two\nC. three\nD. four\nAnswer:";
        assertEquals(expected, MmluFormat.prompt(dev, item("Which is second?", 1, s), 2));
        assertEquals("The following are multiple choice questions (with answers) about  college computer science.\n\n"
                + "Which is second?\nA. one\nB. two\nC. three\nD. four\nAnswer:", MmluFormat.prompt(dev,
                item("Which is second?", 1, s), 0), "0-shot: the header and the question");
        assertThrows(IllegalArgumentException.class, () -> MmluFormat.genPrompt(dev, s, 4));
    }

    @Test
    void formatSubjectPutsASpaceBeforeEveryPart() {
        assertEquals(" abstract algebra", MmluFormat.formatSubject("abstract_algebra"));
        assertEquals(" virology", MmluFormat.formatSubject("virology"));
        // Python's "a__b_".split("_") is ["a", "", "b", ""]
        assertEquals(" a  b ", MmluFormat.formatSubject("a__b_"));
    }

    @Test
    void formatExampleAppendsTheLetterOfTheLabel() {
        McItem x = item("Q?", 2, "anatomy");
        assertEquals(x.context(), MmluFormat.formatExample(x, false));
        assertEquals(x.context() + " C\n\n", MmluFormat.formatExample(x, true));
        assertEquals("A", MmluFormat.letter(0));
        assertEquals("Z", MmluFormat.letter(25));
        assertThrows(IllegalArgumentException.class, () -> MmluFormat.letter(26));
    }

    @Test
    void itemsOutsideTheFormatAreRefusedWithWhatWasFound() {
        MmluFormat.check(item("Q?", 0, "anatomy"));
        MmluFormat.check(new McItem("Q?\nA. x\nB. y\nAnswer:", List.of("A", "B"), 1, "anatomy"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MmluFormat.check(
                new McItem("Q?\nAnswer:", List.of(" yes", " no"), 0, "anatomy")));
        assertTrue(e.getMessage().contains("single letters") && e.getMessage().contains("\" yes\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MmluFormat.check(
                new McItem("Q?\nAnswer:", List.of(" B", " A"), 0, "anatomy")));
        assertTrue(e.getMessage().contains("choice 0 is \" B\""), "letters in order: " + e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MmluFormat.check(item("Q?", 0, "")));
        assertTrue(e.getMessage().contains("\"subject\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MmluFormat.check(
                new McItem("Q?\nA. x\nB. y\nAnswer: ", List.of(" A", " B"), 0, "anatomy")));
        assertTrue(e.getMessage().contains("\"context\" to end with"), e.getMessage());
    }
}

package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** How a calibration file becomes documents: paragraphs, lines, the whole file, and the automatic choice. */
class DocumentSplitTest {
    @Test
    void autoTakesParagraphsOnlyWhenABlankLineSeparatesText() {
        String paragraphs = "first line\nsame paragraph\n\n  \nsecond\r\n\r\nthird\n";
        assertEquals(DocumentSplit.PARAGRAPHS, DocumentSplit.AUTO.resolve(paragraphs));
        assertEquals(List.of("first line\nsame paragraph", "second", "third"), Calibration.documents(paragraphs));
        // blank lines only before the first or after the last text line do not make paragraphs
        String lines = "\n\none\ntwo \n three\n\n\n";
        assertEquals(DocumentSplit.LINES, DocumentSplit.AUTO.resolve(lines));
        assertEquals(List.of("one", "two ", " three"), Calibration.documents(lines));
    }

    @Test
    void explicitSplitsIgnoreTheFileShape() {
        String text = "a b\nc\n\nd\n";
        assertEquals(List.of("a b", "c", "d"), DocumentSplit.LINES.split(text));
        assertEquals(List.of("a b\nc", "d"), DocumentSplit.PARAGRAPHS.split(text));
        assertEquals(List.of(text), DocumentSplit.FILE.split(text));
        assertEquals(List.of(), DocumentSplit.FILE.split(" \n\t"));
        assertEquals(List.of(), DocumentSplit.AUTO.split("\n \n"));
    }

    @Test
    void parseNamesTheValidSplits() {
        assertEquals(DocumentSplit.PARAGRAPHS, DocumentSplit.parse("Paragraphs"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DocumentSplit.parse("words"));
        assertTrue(e.getMessage().contains("'words'") && e.getMessage().contains("auto, paragraphs, lines, file"),
                e.getMessage());
    }
}

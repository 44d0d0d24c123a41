package intactkv.quant;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How a plain-text calibration file becomes the list of documents the official loaders draw from
 * (C4's, Pile-val's and WikiText-2's rows are documents; a user's file has only text).
 *
 * <p>A line is blank when it is empty or white space only ({@link String#isBlank}); lines end at
 * {@code \n}, {@code \r} or {@code \r\n} ({@link String#lines}). Blank documents are never kept.
 * <ul>
 *   <li>{@link #PARAGRAPHS}: runs of non-blank lines separated by blank lines, each run joined
 *       with {@code \n};</li>
 *   <li>{@link #LINES}: every non-blank line is a document;</li>
 *   <li>{@link #FILE}: the whole text is one document;</li>
 *   <li>{@link #AUTO}: {@link #PARAGRAPHS} when a blank line stands between two non-blank lines,
 *       else {@link #LINES}.</li>
 * </ul>
 */
public enum DocumentSplit {
    AUTO, PARAGRAPHS, LINES, FILE;

    /** Parses a lower- or upper-case name, naming the valid ones on error. */
    public static DocumentSplit parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown document split '" + s + "' (one of auto, paragraphs, lines, file)", e);
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** What {@link #AUTO} means for {@code text}; any other value is itself. */
    public DocumentSplit resolve(String text) {
        if (this != AUTO) {
            return this;
        }
        boolean seenText = false;
        boolean blankAfterText = false;
        for (String line : (Iterable<String>) text.lines()::iterator) {
            if (line.isBlank()) {
                blankAfterText = seenText;
            } else if (blankAfterText) {
                return PARAGRAPHS;
            } else {
                seenText = true;
            }
        }
        return LINES;
    }

    /** The non-blank documents of {@code text}, in file order (see the class comment). */
    public List<String> split(String text) {
        List<String> docs = new ArrayList<>();
        switch (resolve(text)) {
            case FILE -> {
                if (!text.isBlank()) {
                    docs.add(text);
                }
            }
            case LINES -> text.lines().filter(l -> !l.isBlank()).forEach(docs::add);
            default -> { // PARAGRAPHS
                StringBuilder par = new StringBuilder();
                for (String line : (Iterable<String>) text.lines()::iterator) {
                    if (line.isBlank()) {
                        flush(par, docs);
                    } else {
                        if (!par.isEmpty()) {
                            par.append('\n');
                        }
                        par.append(line);
                    }
                }
                flush(par, docs);
            }
        }
        return docs;
    }

    private static void flush(StringBuilder par, List<String> docs) {
        if (!par.isEmpty()) {
            docs.add(par.toString());
            par.setLength(0);
        }
    }
}

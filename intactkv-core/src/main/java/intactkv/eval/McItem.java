package intactkv.eval;

import com.google.gson.JsonArray;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import intactkv.model.io.Utf8;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One multiple-choice item: a context, the choices that may continue it, the index of the right
 * one, and an optional subject (MMLU's, used in its prompt header). In a JSONL file, one object
 * per line: {@code {"context": "...", "choices": [" A", " B"], "label": 0, "subject": "anatomy"}}.
 * A choice is scored as the continuation of the context exactly as written, so it usually starts
 * with a space. Two identical choices are refused: they score the same, and the first would take
 * the tie ({@link MultipleChoice}), so such an item measures nothing.
 */
public record McItem(String context, List<String> choices, int label, String subject) {
    public McItem {
        choices = List.copyOf(choices);
        if (choices.size() < 2) {
            throw new IllegalArgumentException("an item needs at least 2 choices, got " + choices.size());
        }
        for (int i = 0; i < choices.size(); i++) {
            if (choices.get(i).isEmpty()) {
                throw new IllegalArgumentException("choice " + i + " is empty");
            }
            // identical choices score identically, and the tie goes to the first (numpy.argmax, as the
            // harness): an item whose label is the first copy would count as right whatever the model
            int same = choices.subList(0, i).indexOf(choices.get(i));
            if (same >= 0) {
                throw new IllegalArgumentException("choices " + same + " and " + i + " are identical ("
                        + quoted(choices.get(i)) + "): the item cannot tell them apart; remove one or fix the item");
            }
        }
        if (label < 0 || label >= choices.size()) {
            throw new IllegalArgumentException("label " + label + " is outside 0.." + (choices.size() - 1));
        }
    }

    /** {@code s} in double quotes with quotes, backslashes and line breaks escaped, for messages. */
    private static String quoted(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }

    /**
     * Reads a JSONL file of items; every line is checked (JSON, fields, label range, at least two
     * non-empty choices, no two identical) before anything is scored, and an error names the
     * file and line. Any readable file is accepted ({@link Utf8#readInput}: a pipe too; a leading
     * byte-order mark is dropped).
     */
    public static Task readJsonl(Path file) throws IOException {
        List<McItem> out = new ArrayList<>();
        List<String> wheres = new ArrayList<>();
        String[] lines = Utf8.readInput(file, "tasks file").split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String where = file + ":" + (i + 1);
            JsonFields o = JsonFile.parse(lines[i], where);
            JsonArray cs = o.array("choices");
            List<String> choices = new ArrayList<>();
            for (int c = 0; c < cs.size(); c++) {
                choices.add(o.stringValue(cs.get(c), "choices[" + c + "]"));
            }
            try {
                out.add(new McItem(o.string("context", null), choices, o.integer("label", null, Integer.MIN_VALUE,
                        Integer.MAX_VALUE), o.string("subject", "")));
                wheres.add(where);
            } catch (IllegalArgumentException e) {
                throw new FormatException(where, e.getMessage(), e);
            }
        }
        if (out.isEmpty()) {
            throw new FormatException(file, "no items (one JSON object per line: context, choices, label, subject)");
        }
        String name = file.getFileName().toString().replaceFirst("\\.jsonl$", "");
        return new Task(name, out, wheres);
    }

    /** A named list of items; {@code where} names each item's source (file:line) for errors. */
    public record Task(String name, List<McItem> items, List<String> where) {
        public Task {
            items = List.copyOf(items);
            where = List.copyOf(where);
            if (items.size() != where.size()) {
                throw new IllegalArgumentException(items.size() + " items but " + where.size() + " sources");
            }
        }

        /** Items named "NAME item i" (built-in tasks). */
        public static Task of(String name, List<McItem> items) {
            List<String> w = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                w.add(name + " item " + i);
            }
            return new Task(name, items, w);
        }
    }
}

package intactkv.prefix;

import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import intactkv.quant.Calibration;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One ShareGPT conversation as the official calibration set stores it
 * ({@code ShareGPT_V4.3_unfiltered_cleaned_split.json}, read by
 * {@code utils/sharegpt.py::make_sharegpt_data_module} with {@code json.load}): an object with an
 * optional {@code "id"} and {@code "conversations": [{"from": ..., "value": ...}, ...]}.
 *
 * <p>A file is either that JSON array (the official format) or JSON Lines, one such object per
 * non-blank line. Every record must have the {@code conversations} array of objects with string
 * {@code from} and {@code value} fields; which roles are allowed is checked where the official
 * code checks it, when a conversation is formatted ({@link VicunaConversation}).
 *
 * @param id     the record's {@code "id"}, or {@code ""} when it has none
 * @param turns  the messages in file order
 * @param index  the record's position in the file (0-based), the order the seeded shuffle permutes
 * @param source the file (with {@code :line} for JSON Lines), for error messages
 * @param path   the record's JSON path prefix in errors: {@code "[i]."} in an array, {@code ""} per line
 */
public record ShareGptConversation(String id, List<Turn> turns, int index, String source, String path) {
    /** One message: {@code from} is the role ({@code "human"}, {@code "gpt"}), {@code value} the text. */
    public record Turn(String from, String value) {
    }

    public ShareGptConversation {
        turns = List.copyOf(turns);
    }

    /** How an error names this record: {@code conversation 'id' (record i)}. */
    public String describe() {
        return (id.isEmpty() ? "conversation" : "conversation '" + id + "'") + " (record " + index + ")";
    }

    /** Reads a ShareGPT file (JSON array or JSON Lines); errors name the file and the record's field or line. */
    public static List<ShareGptConversation> read(Path file) throws IOException {
        return parse(Calibration.readText(file), file.toString());
    }

    /** Parses ShareGPT text; {@code source} names it in errors. See the class comment for the format. */
    public static List<ShareGptConversation> parse(String text, String source) throws FormatException {
        String body = text.stripLeading();
        List<ShareGptConversation> out = new ArrayList<>();
        if (body.startsWith("[")) {
            List<JsonFields> records = JsonFile.parseArray(text, source);
            for (int i = 0; i < records.size(); i++) {
                out.add(of(records.get(i), i, source, "[" + i + "]."));
            }
        } else {
            int lineNo = 0;
            for (String line : text.split("\n", -1)) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                String where = source + ":" + lineNo;
                out.add(of(JsonFile.parse(line, where), out.size(), where, ""));
            }
        }
        if (out.isEmpty()) {
            throw new FormatException(source, "no conversation in the file (expected a JSON array of"
                    + " {\"conversations\": [{\"from\": ..., \"value\": ...}]} objects, or one such object per line)");
        }
        return out;
    }

    private static ShareGptConversation of(JsonFields record, int index, String source, String path)
            throws FormatException {
        String id = "";
        if (record.has("id")) { // only for messages: a string as it is, anything else as its JSON text
            var e = record.required("id");
            id = e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? e.getAsString() : e.toString();
        }
        List<Turn> turns = new ArrayList<>();
        for (JsonFields t : record.objects("conversations")) {
            turns.add(new Turn(t.string("from", null), t.string("value", null)));
        }
        return new ShareGptConversation(id, turns, index, source, path);
    }
}

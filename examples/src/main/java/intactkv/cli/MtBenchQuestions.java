package intactkv.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import intactkv.model.io.Utf8;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * FastChat's MT-Bench question file ({@code fastchat/llm_judge/data/mt_bench/question.jsonl}):
 * one JSON object a line with {@code question_id} (an integer, or a string as other FastChat
 * benches use), {@code category} (a string; it picks the sampling temperature) and {@code turns}
 * (the user's messages, one a turn). Every line is checked before any generation, each refusal
 * naming {@code FILE:LINE} and the field:
 * <ul>
 *   <li>a line that is not one JSON object (the official {@code json.loads} would stop there);</li>
 *   <li>a missing or wrongly typed {@code question_id}, {@code category} or {@code turns};</li>
 *   <li>{@code turns} empty, or a turn that is not a string or is empty (blank): there would be
 *       nothing to answer, and the judge would grade an answer to nothing;</li>
 *   <li>a {@code question_id} given twice: FastChat keys answers and judgments by it, so the
 *       second question's answer would silently replace the first's.</li>
 * </ul>
 * Blank lines are skipped. Other fields (FastChat's {@code reference}) are ignored.
 */
final class MtBenchQuestions {
    private MtBenchQuestions() {
    }

    /**
     * One question.
     *
     * @param id       the question_id as it is in the file (an integer or a string), written back as is
     * @param key      the id as a string, for lookups ({@code 81}, or {@code "abc"} with its quotes)
     * @param category the category
     * @param turns    the user's messages
     * @param line     its line in the file (1-based)
     */
    record Question(JsonElement id, String key, String category, List<String> turns, int line) {
    }

    /** Reads and checks {@code file}; see the class comment. */
    static List<Question> read(Path file) throws IOException {
        String text = Utf8.readInput(file, "question file");
        String[] lines = text.split("\n", -1);
        List<Question> out = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.isBlank()) {
                continue;
            }
            String source = file + ":" + (i + 1);
            JsonFields f = JsonFile.parse(line, source);
            Question q = question(f, source, i + 1);
            Integer before = seen.putIfAbsent(q.key(), i + 1);
            if (before != null) {
                throw new FormatException(source, "field 'question_id' " + q.key() + " was already given on line "
                        + before + "; FastChat keys answers by question_id, so each must be unique");
            }
            out.add(q);
        }
        if (out.isEmpty()) {
            throw new FormatException(file, "no questions (the file is empty or blank); give FastChat's"
                    + " question.jsonl, one JSON object a line");
        }
        return out;
    }

    private static Question question(JsonFields f, String source, int line) throws FormatException {
        for (String key : new String[] {"question_id", "category", "turns"}) {
            if (!f.has(key)) {
                throw new FormatException(source, "missing field '" + key + "'; a FastChat question is {\"question_id\":"
                        + " ..., \"category\": \"...\", \"turns\": [\"...\", ...]}");
            }
        }
        JsonElement id = f.required("question_id");
        String key;
        if (id.isJsonPrimitive() && id.getAsJsonPrimitive().isString()) {
            key = id.toString();
        } else if (!id.isJsonPrimitive() || !id.getAsJsonPrimitive().isNumber()) {
            throw new FormatException(source, "field 'question_id' must be an integer or a string, got " + id);
        } else {
            key = Long.toString(f.integerValue(id, "question_id", Long.MIN_VALUE, Long.MAX_VALUE));
        }
        String category = f.string("category", null);
        JsonArray a = f.array("turns");
        if (a.isEmpty()) {
            throw new FormatException(source, "field 'turns' is empty; give the user's messages, one a turn");
        }
        List<String> turns = new ArrayList<>();
        for (int j = 0; j < a.size(); j++) {
            String t = f.stringValue(a.get(j), "turns[" + j + "]");
            if (t.isBlank()) {
                throw new FormatException(source, "field 'turns[" + j + "]' is empty; every turn needs the user's"
                        + " message");
            }
            turns.add(t);
        }
        return new Question(id, key, category, List.copyOf(turns), line);
    }

    /** The key of an answer's question_id, as {@link Question#key()} (null when it is neither an integer nor a string). */
    static String key(JsonElement id) {
        if (id == null || !id.isJsonPrimitive()) {
            return null;
        }
        if (id.getAsJsonPrimitive().isString()) {
            return id.toString();
        }
        if (id.getAsJsonPrimitive().isNumber()) {
            try {
                return new java.math.BigDecimal(id.getAsString()).toBigIntegerExact().toString();
            } catch (ArithmeticException | NumberFormatException e) {
                return null;
            }
        }
        return null;
    }
}

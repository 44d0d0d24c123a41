package intactkv.cli;

import com.google.gson.JsonElement;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import intactkv.model.io.Utf8;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * The MT-Bench answer file ({@code --out}, FastChat's {@code model_answer/MODEL_ID.jsonl}), kept
 * resumable:
 * <ul>
 *   <li>each answer is appended as one whole line (bytes and newline in one write), then the
 *       file is forced to disk ({@link FileChannel#force}), so an interrupt leaves every answer
 *       before it complete and at most the one being written cut short;</li>
 *   <li>{@link #read} lists the question_ids already answered, to be skipped. A last line
 *       without its newline is what an interrupt in the middle of a write leaves: when it does
 *       not parse, it is removed (the file is truncated to the end of the last complete line)
 *       and its question is answered again; when it parses, its newline is added. Either repair
 *       is said on standard error;</li>
 *   <li>any other line that is not an answer (not JSON, no question_id, no choices) or that is
 *       another model's ({@code model_id} not --model-id) is refused by line: the file is not
 *       one this command wrote for this model, and appending to it would mix answers.</li>
 * </ul>
 */
final class MtBenchAnswers {
    private MtBenchAnswers() {
    }

    /** What {@link #read} found: the answered question keys ({@link MtBenchQuestions#key}) and the repair made, if any (null: none). */
    record Existing(Set<String> answered, String repair) {
    }

    /** Reads (and repairs, see the class comment) the answer file {@code out} of model {@code modelId}. */
    static Existing read(Path out, String modelId) throws IOException {
        Set<String> answered = new HashSet<>();
        if (!Files.exists(out)) {
            return new Existing(answered, null);
        }
        byte[] bytes = Files.readAllBytes(out);
        int end = bytes.length;
        while (end > 0 && bytes[end - 1] != '\n') {
            end--;
        }
        String repair = null;
        if (end < bytes.length) { // an unterminated last line
            byte[] tail = Arrays.copyOfRange(bytes, end, bytes.length);
            int lineNo = lineCount(bytes, end) + 1;
            String source = out + ":" + lineNo;
            JsonFields parsed = null;
            try {
                parsed = JsonFile.parse(Utf8.decode(tail, source), source);
            } catch (FormatException e) {
                // a JSON object cut short never parses: an interrupted write
            }
            boolean whole = parsed != null;
            if (whole) {
                answer(parsed, source, modelId); // complete JSON: it must be this model's answer, else refused unrepaired
            }
            try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE)) {
                if (whole) {
                    ch.position(bytes.length);
                    write(ch, new byte[] {'\n'});
                    end = bytes.length + 1;
                    bytes = Arrays.copyOf(bytes, end);
                    bytes[end - 1] = '\n';
                    repair = source + ": the last answer had no newline; added it";
                } else {
                    ch.truncate(end);
                    ch.force(true);
                    repair = source + ": the last line was cut short (" + tail.length + " bytes, an earlier run was"
                            + " interrupted while writing it); removed it, its question will be answered again";
                }
            }
        }
        String text = Utf8.decode(Arrays.copyOf(bytes, end), out);
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String source = out + ":" + (i + 1);
            JsonFields f;
            try {
                f = JsonFile.parse(lines[i], source);
            } catch (FormatException e) {
                throw notAnswers(e);
            }
            answered.add(answer(f, source, modelId));
        }
        return new Existing(answered, repair);
    }

    /** Checks one answer line; returns its question key. */
    private static String answer(JsonFields f, String source, String modelId) throws FormatException {
        try {
            String key = MtBenchQuestions.key(f.required("question_id"));
            if (key == null) {
                throw new FormatException(source, "field 'question_id' must be an integer or a string, got "
                        + f.raw().get("question_id"));
            }
            String model = f.string("model_id", null);
            f.array("choices");
            if (!model.equals(modelId)) {
                throw new FormatException(source, "field 'model_id' is \"" + model + "\", not --model-id \"" + modelId
                        + "\": this file holds another model's answers; choose another --out (FastChat's"
                        + " model_answer/" + modelId + ".jsonl)");
            }
            return key;
        } catch (FormatException e) {
            if (e.getMessage().contains("'model_id' is")) {
                throw e;
            }
            throw notAnswers(e);
        }
    }

    private static FormatException notAnswers(FormatException e) {
        return new FormatException(e.source(), e.getMessage().substring(e.source().length() + 2)
                + "; --out must be an MT-Bench answer file (one answer a line) to resume, or a new file");
    }

    private static int lineCount(byte[] b, int end) {
        int n = 0;
        for (int i = 0; i < end; i++) {
            if (b[i] == '\n') {
                n++;
            }
        }
        return n;
    }

    /** Appends {@code json} and a newline to {@code out} in one write, then forces it to disk. */
    static void append(Path out, String json) throws IOException {
        if (json.indexOf('\n') >= 0) {
            throw new IllegalStateException("an answer line must not contain a newline");
        }
        byte[] line = (json + "\n").getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            write(ch, line);
        }
    }

    private static void write(FileChannel ch, byte[] b) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(b);
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
        ch.force(true);
    }
}

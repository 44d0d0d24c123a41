package intactkv.prefix;

import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One calibration sequence for {@link PrefixCalibrator}: token ids that begin with the prefix
 * ids, and the positions whose layer outputs count in the loss (after the prefix; for
 * conversations only the assistant's tokens, as FastChat's {@code preprocess} masks them).
 *
 * @param ids     the whole sequence, prefix included
 * @param counted indices (into ids) of the positions that count, all at or after the prefix
 */
public record CalibrationSample(int[] ids, int[] counted) {
    public CalibrationSample {
        if (counted.length == 0) {
            throw new IllegalArgumentException("a calibration sample has no tokens that count in the loss");
        }
    }

    /**
     * Plain text: {@code n} random windows of {@code seqlen - p} tokens (seeded), each put
     * after the prefix ids; every token after the prefix counts.
     */
    public static List<CalibrationSample> fromText(Tokenizer tok, String text, int[] prefixIds, int n, int seqlen,
                                                   long seed, String source) {
        int body = seqlen - prefixIds.length;
        if (body < 1) {
            throw new IllegalArgumentException("the prefix (" + prefixIds.length + " tokens) leaves no room in --seqlen "
                    + seqlen);
        }
        int[] ids = tok.encode(text, false);
        if (ids.length < body + 1) {
            throw new IllegalArgumentException(source + ": " + ids.length + " tokens, too few for samples of " + body
                    + " tokens after the prefix");
        }
        Random rng = new Random(seed);
        List<CalibrationSample> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int start = rng.nextInt(ids.length - body);
            int[] s = new int[seqlen];
            System.arraycopy(prefixIds, 0, s, 0, prefixIds.length);
            System.arraycopy(ids, start, s, prefixIds.length, body);
            int[] counted = new int[body];
            for (int i = 0; i < body; i++) {
                counted[i] = prefixIds.length + i;
            }
            out.add(new CalibrationSample(s, counted));
        }
        return out;
    }

    /**
     * ShareGPT conversations, one JSON object per line
     * ({@code {"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}]}}),
     * formatted with the Vicuna v1.1 template ({@code SYSTEM USER: q ASSISTANT: a</s>USER: ...});
     * only the assistant answers and their {@code </s>} count. Sequences are cut at
     * {@code seqlen}; the first {@code n} usable conversations are taken.
     */
    public static List<CalibrationSample> fromShareGpt(Tokenizer tok, List<String> lines, int[] prefixIds, int n,
                                                       int seqlen, String source) throws FormatException {
        List<CalibrationSample> out = new ArrayList<>();
        int lineNo = 0;
        for (String line : lines) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            String where = source + ":" + lineNo;
            List<JsonFields> conv = JsonFile.parse(line, where).objects("conversations");
            // the whole conversation as one string, tokenized whole; an answer's tokens are those
            // between the token counts of the text before it and of the text through its </s>
            StringBuilder text = new StringBuilder(ChatTemplate.VICUNA_SYSTEM);
            List<Integer> counted = new ArrayList<>();
            for (JsonFields t : conv) {
                String from = t.string("from", null);
                String value = t.string("value", null);
                if (from.equals("human") || from.equals("user")) {
                    text.append(text.toString().endsWith("</s>") ? "" : " ").append("USER: ").append(value)
                            .append(" ASSISTANT:");
                } else if (from.equals("gpt") || from.equals("assistant")) {
                    int start = tok.encode(text.toString(), true).length;
                    text.append(" ").append(value).append("</s>");
                    int end = tok.encode(text.toString(), true).length;
                    for (int i = start; i < end; i++) {
                        counted.add(i);
                    }
                }
            }
            List<Integer> ids = new ArrayList<>();
            append(ids, tok.encode(text.toString(), true));
            int len = Math.min(seqlen, ids.size());
            int[] arr = ids.subList(0, len).stream().mapToInt(Integer::intValue).toArray();
            int[] c = counted.stream().mapToInt(Integer::intValue).filter(i -> i < len && i >= prefixIds.length).toArray();
            if (!startsWith(arr, prefixIds)) {
                throw new FormatException(where, "the formatted conversation does not start"
                        + " with the prefix tokens (use --intactkv prompt or bos with the Vicuna template)");
            }
            if (c.length > 0) {
                out.add(new CalibrationSample(arr, c));
            }
            if (out.size() == n) {
                break;
            }
        }
        if (out.isEmpty()) {
            throw new FormatException(source, "no conversation has assistant tokens within --seqlen " + seqlen);
        }
        return out;
    }

    private static void append(List<Integer> ids, int[] more) {
        for (int v : more) {
            ids.add(v);
        }
    }

    static boolean startsWith(int[] ids, int[] prefix) {
        if (ids.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (ids[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }
}

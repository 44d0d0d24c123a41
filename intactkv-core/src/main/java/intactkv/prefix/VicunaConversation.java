package intactkv.prefix;

import intactkv.model.io.FormatException;
import intactkv.model.text.ChatTemplate;
import java.util.Arrays;

/**
 * A ShareGPT conversation as token ids in the Vicuna v1.1 format, built message by message as
 * the official calibration set builds it. Reference: {@code utils/sharegpt.py::preprocess}
 * (FastChat 0.2.34's {@code vicuna_v1.1} template: system prompt, separator {@code " "}, roles
 * {@code USER} and {@code ASSISTANT}).
 *
 * <ol>
 *   <li>Turns before the first {@code "human"} turn are dropped; after it the roles must
 *       alternate human, gpt, human, ... (the official asserts this).</li>
 *   <li>Turn j becomes one message: the system prompt and {@code " "} before the first one, then
 *       {@code "USER: " + value + " ASSISTANT:"} for a human turn and the answer text alone for a
 *       gpt turn (nothing when the value is empty; no {@code </s>} after answers).</li>
 *   <li>Each message is tokenized on its own, without special tokens, and cut to its first
 *       {@code maxMessageTokens} tokens ({@code min(model_max_length, 4096)} officially).</li>
 *   <li>ids = [BOS] followed by the messages' tokens; the assistant positions are those of the
 *       gpt messages' tokens (position 0 is [BOS]).</li>
 *   <li>A sequence of {@code >= maxSeqLen} tokens is cut to {@code maxSeqLen}, and the assistant
 *       positions to those below it.</li>
 * </ol>
 * Where the official code would stop with an error (a role other than human/gpt, no human turn,
 * roles that do not alternate) this refuses the conversation by name.
 */
public final class VicunaConversation {
    /** FastChat {@code vicuna_v1.1} roles for {@code "human"} and {@code "gpt"}. */
    static final String USER = "USER";
    static final String ASSISTANT = "ASSISTANT";
    /** The official per-message cap: {@code min(tokenizer.model_max_length, 4096)} with LLaMA-2's 4096. */
    public static final int OFFICIAL_MESSAGE_LIMIT = 4096;

    private VicunaConversation() {
    }

    /** Text to token ids without special tokens ({@code tokenizer(text, add_special_tokens=False)}). */
    @FunctionalInterface
    public interface Encoder {
        int[] encode(String text);
    }

    /**
     * A formatted conversation.
     *
     * @param ids       [BOS] and the messages' tokens, at most maxSeqLen
     * @param assistant positions (into ids, increasing) of the assistant's tokens: the loss positions
     */
    public record Tokens(int[] ids, int[] assistant) {
    }

    /** Formats {@code c}; see the class comment. */
    public static Tokens format(ShareGptConversation c, Encoder enc, int bosId, int maxSeqLen, int maxMessageTokens)
            throws FormatException {
        if (maxSeqLen < 1 || maxMessageTokens < 1) {
            throw new IllegalArgumentException("maximum lengths must be >= 1, got sequence " + maxSeqLen
                    + ", message " + maxMessageTokens);
        }
        int start = 0;
        while (start < c.turns().size() && !isHuman(c, start)) {
            start++;
        }
        if (start == c.turns().size()) {
            throw new FormatException(c.source(), c.describe() + ": no turn with \"from\": \"human\" in '" + c.path()
                    + "conversations' (the official preprocess starts at the first human turn)");
        }
        int[] ids = new int[16];
        int n = 0;
        ids[n++] = bosId;
        int[] assistant = new int[16];
        int a = 0;
        for (int j = 0; j + start < c.turns().size(); j++) {
            ShareGptConversation.Turn t = c.turns().get(j + start);
            boolean human = isHuman(c, j + start);
            if (human != (j % 2 == 0)) {
                throw new FormatException(c.source(), c.describe() + ": '" + c.path() + "conversations[" + (j + start)
                        + "].from' is \"" + t.from() + "\" where \"" + (j % 2 == 0 ? "human" : "gpt")
                        + "\" is due (after the first human turn the roles alternate human, gpt, ...)");
            }
            StringBuilder message = new StringBuilder(j == 0 ? ChatTemplate.VICUNA_SYSTEM + " " : "");
            if (!t.value().isEmpty()) {
                message.append(human ? USER + ": " + t.value() + " " + ASSISTANT + ":" : t.value());
            }
            int[] m = enc.encode(message.toString());
            int len = Math.min(m.length, maxMessageTokens);
            if (n + len > ids.length) {
                ids = Arrays.copyOf(ids, Math.max(2 * ids.length, n + len));
            }
            if (!human) {
                if (a + len > assistant.length) {
                    assistant = Arrays.copyOf(assistant, Math.max(2 * assistant.length, a + len));
                }
                for (int k = 0; k < len; k++) {
                    assistant[a++] = n + k;
                }
            }
            System.arraycopy(m, 0, ids, n, len);
            n += len;
        }
        int kept = Math.min(n, maxSeqLen);
        int keptAssistant = 0;
        while (keptAssistant < a && assistant[keptAssistant] < kept) {
            keptAssistant++;
        }
        return new Tokens(Arrays.copyOf(ids, kept), Arrays.copyOf(assistant, keptAssistant));
    }

    /** Whether turn i is "human"; a role other than human/gpt is refused (the official's roles[...] lookup fails). */
    private static boolean isHuman(ShareGptConversation c, int i) throws FormatException {
        String from = c.turns().get(i).from();
        if (from.equals("human")) {
            return true;
        }
        if (from.equals("gpt")) {
            return false;
        }
        throw new FormatException(c.source(), c.describe() + ": '" + c.path() + "conversations[" + i + "].from' is \""
                + from + "\"; the official preprocess knows only \"human\" and \"gpt\" (" + (from.equals("system")
                        ? "remove the system turn: every conversation gets the Vicuna system prompt"
                        : "make it \"human\" or \"gpt\", or remove the turn") + ")");
    }
}

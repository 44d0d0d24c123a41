package intactkv.prefix;

import intactkv.model.io.FormatException;
import intactkv.tensor.PythonRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * The official prefix-calibration set: ShareGPT conversations picked as
 * {@code utils/sharegpt.py::make_sharegpt_data_module} picks them. The list of conversations is
 * shuffled with Python's {@code random.seed(42); random.shuffle(...)} ({@link PythonRandom},
 * bit-identical to CPython), then conversations are taken in that order while fewer than
 * {@code samples} are kept, keeping those whose {@link VicunaConversation} formatting (cut to
 * {@code maxSeqLen} = 1024 tokens) has more than {@code minAssistantTokens} = 50 assistant
 * tokens. The loss counts the assistant tokens only.
 *
 * <p>A conversation with no gpt turn has no assistant tokens and is not kept (the official
 * {@code torch.cat} of an empty list would stop with an error there); every other conversation
 * the official could not format is refused by name ({@link VicunaConversation}).
 */
public final class ShareGptSelection {
    private ShareGptSelection() {
    }

    /**
     * Selection settings, validated.
     *
     * @param samples            conversations to keep ({@code --max_train_samples}, 128)
     * @param maxSeqLen          sequence cut ({@code --max_seq_len}, 1024)
     * @param minAssistantTokens a conversation is kept when it has more than this many assistant tokens (50)
     * @param seed               Python {@code random.seed} before the shuffle (42)
     * @param maxMessageTokens   per-message cut ({@code min(model_max_length, 4096)})
     */
    public record Settings(int samples, int maxSeqLen, int minAssistantTokens, long seed, int maxMessageTokens) {
        public Settings {
            if (samples < 1) {
                throw new IllegalArgumentException("--samples must be >= 1: " + samples);
            }
            if (maxSeqLen < 2) {
                throw new IllegalArgumentException("--seqlen must be >= 2: " + maxSeqLen);
            }
            if (minAssistantTokens < 0 || maxMessageTokens < 1) {
                throw new IllegalArgumentException("ShareGPT selection: need minAssistantTokens >= 0 and"
                        + " maxMessageTokens >= 1, got " + minAssistantTokens + ", " + maxMessageTokens);
            }
        }

        /** The official selection of {@code samples} conversations cut to {@code maxSeqLen} tokens. */
        public static Settings official(int samples, int maxSeqLen) {
            return new Settings(samples, maxSeqLen, 50, 42, VicunaConversation.OFFICIAL_MESSAGE_LIMIT);
        }
    }

    /**
     * The selected conversations.
     *
     * @param samples   one per kept conversation, in selection order: ids and the assistant positions
     * @param chosen    the kept conversations, in the same order
     * @param examined  how many conversations were formatted to find them
     */
    public record Selection(List<CalibrationSample> samples, List<ShareGptConversation> chosen, int examined) {
        public Selection {
            samples = List.copyOf(samples);
            chosen = List.copyOf(chosen);
        }

        /**
         * Refuses unless every sample starts with {@code prefixIds} and has a loss position after
         * them. The official {@code LlamaForPTQLoss.forward} strips the prefix ids only when they
         * match and otherwise runs the whole input after the prefix (the prefix twice, and the
         * loss positions shifted); here a mismatch is an error that names the conversation.
         */
        public void requirePrefix(int[] prefixIds, String prefixName) {
            for (int i = 0; i < samples.size(); i++) {
                int[] ids = samples.get(i).ids();
                int at = 0;
                while (at < prefixIds.length && at < ids.length && ids[at] == prefixIds[at]) {
                    at++;
                }
                ShareGptConversation c = chosen.get(i);
                if (at < prefixIds.length) {
                    throw new IllegalArgumentException(c.source() + ": " + c.describe() + " does not start with the "
                            + prefixName + " ids (" + prefixIds.length + " tokens): they differ at position " + at
                            + (at < ids.length ? " (token " + ids[at] + " where the prefix has " + prefixIds[at] + ")"
                                    : " (the conversation has only " + ids.length + " tokens)")
                            + "; the tokenizer does not split the Vicuna prompt the same way alone and before a question");
                }
                int[] counted = samples.get(i).counted();
                if (counted[0] < prefixIds.length) {
                    throw new IllegalArgumentException(c.source() + ": " + c.describe() + " has assistant tokens at"
                            + " position " + counted[0] + ", inside the " + prefixName + " (" + prefixIds.length
                            + " tokens)");
                }
            }
        }
    }

    /** Picks the calibration conversations of {@code data}; see the class comment. */
    public static Selection select(List<ShareGptConversation> data, VicunaConversation.Encoder enc, int bosId,
                                   Settings st, String source) throws FormatException {
        List<Integer> order = new ArrayList<>(data.size());
        for (int i = 0; i < data.size(); i++) {
            order.add(i);
        }
        new PythonRandom(st.seed()).shuffle(order); // permutes positions as random.shuffle(train_json) permutes records
        List<CalibrationSample> samples = new ArrayList<>();
        List<ShareGptConversation> chosen = new ArrayList<>();
        int examined = 0;
        while (samples.size() < st.samples()) {
            if (examined == order.size()) {
                throw new FormatException(source, (samples.isEmpty() ? "no conversation of the " + data.size() + " has"
                        : "only " + samples.size() + " of the " + data.size() + " conversations have") + " more than "
                        + st.minAssistantTokens() + " assistant tokens within " + st.maxSeqLen() + " tokens; --samples"
                        + " asks for " + st.samples() + " (the official selection skips the others)"
                        + whyNot(data, enc, bosId, st));
            }
            ShareGptConversation c = data.get(order.get(examined++));
            VicunaConversation.Tokens t = VicunaConversation.format(c, enc, bosId, st.maxSeqLen(), st.maxMessageTokens());
            if (t.assistant().length > st.minAssistantTokens()) {
                samples.add(new CalibrationSample(t.ids(), t.assistant()));
                chosen.add(c);
            }
        }
        return new Selection(samples, chosen, examined);
    }

    /**
     * Why conversations were skipped, for the refusal when too few qualify: each one formatted
     * again without the --seqlen cut and counted as having no assistant tokens at all (no gpt turn,
     * or only empty answers), having enough only beyond the cut, or having too few even uncut; and
     * what to change. Runs only on that error path, so the selection itself is unchanged.
     */
    private static String whyNot(List<ShareGptConversation> data, VicunaConversation.Encoder enc, int bosId,
                                 Settings st) throws FormatException {
        int noAnswer = 0;
        int cut = 0;
        int few = 0;
        int firstAnswer = Integer.MAX_VALUE; // earliest assistant position among those cut away
        int needed = Integer.MAX_VALUE; // the shortest --seqlen that keeps enough assistant tokens of one of them
        for (ShareGptConversation c : data) {
            VicunaConversation.Tokens whole = VicunaConversation.format(c, enc, bosId, Integer.MAX_VALUE,
                    st.maxMessageTokens());
            int n = whole.assistant().length;
            if (n == 0) {
                noAnswer++;
            } else if (n <= st.minAssistantTokens()) {
                few++;
            } else if (whole.assistant()[st.minAssistantTokens()] >= st.maxSeqLen()) {
                cut++;
                firstAnswer = Math.min(firstAnswer, whole.assistant()[0]);
                needed = Math.min(needed, whole.assistant()[st.minAssistantTokens()] + 1);
            }
        }
        StringBuilder why = new StringBuilder();
        if (noAnswer > 0) {
            why.append("; ").append(noAnswer).append(noAnswer == 1 ? " has" : " have")
                    .append(" no assistant tokens (no \"gpt\" turn with text after a \"human\" one: add the answers,"
                            + " or use other conversations)");
        }
        if (few > 0) {
            why.append("; ").append(few).append(few == 1 ? " has " : " have ").append(st.minAssistantTokens())
                    .append(" or fewer assistant tokens in all");
        }
        if (cut > 0) {
            why.append("; ").append(cut).append(" would qualify uncut, but --seqlen ").append(st.maxSeqLen())
                    .append(cut == 1 ? " cuts it" : " cuts them")
                    .append(": each starts with [BOS], the Vicuna system prompt and the question, and the earliest answer"
                            + " starts at token ").append(firstAnswer).append(", so use --seqlen ").append(needed)
                    .append(" or more");
        }
        return why.toString();
    }
}

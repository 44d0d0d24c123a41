package intactkv.model.text;

/**
 * The Vicuna v1.1 conversation format (FastChat's {@code vicuna_v1.1}, separator style
 * {@code ADD_COLON_TWO}), which IntactKV_[P] uses for its prefix:
 * <pre>
 *   SYSTEM + " USER: " + question + " ASSISTANT:"
 * </pre>
 * and, after an answer, {@code " " + answer + "</s>"} before the next {@code "USER: "}.
 */
public final class ChatTemplate {
    /** Vicuna's system prompt. */
    public static final String VICUNA_SYSTEM = "A chat between a curious user and an artificial intelligence assistant. "
            + "The assistant gives helpful, detailed, and polite answers to the user's questions.";

    /**
     * The Vicuna v1.1 stop string: FastChat's {@code sep2}, which ends every assistant turn. The
     * template itself sets no {@code stop_str} (FastChat 0.2.34 relies on [EOS], whose text this
     * is for a LLaMA tokenizer), so with such a tokenizer stopping at it changes nothing; it stops
     * a model that spells "</s>" as plain text, which would otherwise run on into a made-up next
     * turn.
     */
    public static final String VICUNA_STOP = "</s>";

    private ChatTemplate() {
    }

    /**
     * The prompt of turn {@code k = answers.size()} of a conversation (FastChat
     * {@code Conversation.get_prompt} with separator style {@code ADD_COLON_TWO}, sep " ",
     * sep2 "</s>"): the system prompt and " ", then for each earlier turn
     * {@code "USER: " + q + " " + "ASSISTANT: " + a + "</s>"}, then {@code "USER: " + q_k + " ASSISTANT:"}.
     * As FastChat, an empty earlier answer is written {@code "ASSISTANT:"} with no separator
     * (its {@code if message:} test). For one question this is {@link #vicunaPrompt}.
     *
     * @param questions the user turns so far, {@code answers.size() + 1} of them
     * @param answers   the assistant's answers to all but the last question
     */
    public static String vicunaConversation(java.util.List<String> questions, java.util.List<String> answers) {
        if (questions.size() != answers.size() + 1) {
            throw new IllegalArgumentException("a Vicuna prompt needs one question more than answers, got "
                    + questions.size() + " questions and " + answers.size() + " answers");
        }
        StringBuilder b = new StringBuilder(VICUNA_SYSTEM).append(' ');
        for (int i = 0; i < answers.size(); i++) {
            b.append("USER: ").append(questions.get(i)).append(' ');
            b.append(answers.get(i).isEmpty() ? "ASSISTANT:" : "ASSISTANT: " + answers.get(i) + VICUNA_STOP);
        }
        return b.append("USER: ").append(questions.get(answers.size())).append(" ASSISTANT:").toString();
    }

    /** The prompt for one user turn, ending with {@code "ASSISTANT:"} for the model to continue. */
    public static String vicunaPrompt(String question) {
        return VICUNA_SYSTEM + " USER: " + question + " ASSISTANT:";
    }

    /**
     * The text shared by every Vicuna conversation before the first question: the system
     * prompt and {@code " USER:"}. Tokenized with [BOS] in front it is the IntactKV_[P]
     * prefix ({@code intactkv/utils.py::gen_vicuna_prompt_kv}).
     */
    public static String vicunaPrefix() {
        return VICUNA_SYSTEM + " USER:";
    }
}

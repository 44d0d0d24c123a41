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

    private ChatTemplate() {
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

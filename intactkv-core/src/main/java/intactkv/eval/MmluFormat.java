package intactkv.eval;

import java.util.List;

/**
 * The prompt text of the official MMLU evaluation, item by item as {@code eval_utils/mmlu.py}
 * writes it, with an item in this project's format ({@link McItem}) standing for one CSV row:
 * <pre>
 *   format_subject(s)           = " " + the parts of s split at "_", each after one space
 *                                 ("abstract_algebra" -> " abstract algebra")
 *   format_example(x, answer)   = x.context                               question, "\nA. ...", ..., "\nAnswer:"
 *                                 + (answer ? " " + letter(x.label) + "\n\n" : "")
 *   gen_prompt(dev, s, k)       = "The following are multiple choice questions (with answers) about "
 *                                 + format_subject(s) + ".\n\n" + format_example(dev[0], true) + ... (k of them)
 *   prompt(dev, x, k)           = gen_prompt(dev, s, k) + format_example(x, false)
 * </pre>
 * The header therefore has two spaces before the subject ("about  abstract algebra."), as the
 * official text does; lm-evaluation-harness's header ({@link MultipleChoice#mmluHeader}) has one.
 * An item's {@code context} is {@code format_example(row, include_answer=False)}: the question, one
 * line {@code "\nA. option"} per choice and {@code "\nAnswer:"}; its {@code choices} are the
 * letters A, B, C, ... in order (each may carry one leading space, as in the harness format), and
 * {@code label} is the index of the right letter. {@link #check} refuses any other item.
 *
 * <p>Reference: {@code eval_utils/mmlu.py::format_subject}, {@code format_example},
 * {@code gen_prompt}.
 */
public final class MmluFormat {
    /** What every item's context ends with ({@code format_example}'s last line). */
    public static final String ANSWER_CUE = "\nAnswer:";
    /** mmlu.py's {@code choices} has four letters; items here may have 2..26 (A..Z). */
    public static final int MAX_CHOICES = 26;

    private MmluFormat() {
    }

    /** The letter of choice {@code c}: "A" for 0, "B" for 1, ... */
    public static String letter(int c) {
        if (c < 0 || c >= MAX_CHOICES) {
            throw new IllegalArgumentException("choice index " + c + " has no letter (0.." + (MAX_CHOICES - 1) + ")");
        }
        return String.valueOf((char) ('A' + c));
    }

    /** {@code format_subject}: each part of {@code subject} split at "_" after one space. */
    public static String formatSubject(String subject) {
        StringBuilder sb = new StringBuilder();
        for (String part : subject.split("_", -1)) {
            sb.append(' ').append(part);
        }
        return sb.toString();
    }

    /** {@code format_example}: the item's context, and with {@code includeAnswer} its letter and a blank line. */
    public static String formatExample(McItem item, boolean includeAnswer) {
        return includeAnswer ? item.context() + " " + letter(item.label()) + "\n\n" : item.context();
    }

    /** {@code gen_prompt}: the header of {@code subject}, then the first {@code k} dev items with their answers. */
    public static String genPrompt(List<McItem> dev, String subject, int k) {
        if (k < 0 || k > dev.size()) {
            throw new IllegalArgumentException(k + " shots asked, but subject '" + subject + "' has " + dev.size()
                    + " dev items");
        }
        StringBuilder sb = new StringBuilder("The following are multiple choice questions (with answers) about ")
                .append(formatSubject(subject)).append(".\n\n");
        for (int i = 0; i < k; i++) {
            sb.append(formatExample(dev.get(i), true));
        }
        return sb.toString();
    }

    /** The whole prompt of test item {@code item} after {@code k} shots: {@code train_prompt + prompt_end}. */
    public static String prompt(List<McItem> dev, McItem item, int k) {
        return genPrompt(dev, item.subject(), k) + formatExample(item, false);
    }

    /**
     * Refuses an item the official format cannot represent: choices other than the letters A, B,
     * C, ... in order (one optional leading space each), no subject, or a context that does not
     * end with {@code "\nAnswer:"}. The message says what was found.
     */
    public static void check(McItem item) {
        if (item.choices().size() > MAX_CHOICES) {
            throw new IllegalArgumentException("--protocol mmlu-official: " + item.choices().size()
                    + " choices, more than the letters A..Z");
        }
        for (int c = 0; c < item.choices().size(); c++) {
            String choice = item.choices().get(c);
            String bare = choice.startsWith(" ") ? choice.substring(1) : choice;
            if (!bare.equals(letter(c))) {
                throw new IllegalArgumentException("--protocol mmlu-official needs the choices to be the single letters"
                        + " A, B, C, ... in order (\"A\" or \" A\"); choice " + c + " is \"" + choice + "\"");
            }
        }
        if (item.subject().isEmpty()) {
            throw new IllegalArgumentException("--protocol mmlu-official needs a \"subject\" on every item (the"
                    + " prompt's header names it and the shots come from the same subject)");
        }
        if (!item.context().endsWith(ANSWER_CUE)) {
            throw new IllegalArgumentException("--protocol mmlu-official needs the \"context\" to end with \"\\nAnswer:\""
                    + " (mmlu.py's format_example without the answer: question, \"\\nA. ...\" lines, \"\\nAnswer:\")");
        }
    }
}

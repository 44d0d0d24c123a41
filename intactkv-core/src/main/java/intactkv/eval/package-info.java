/**
 * Multiple-choice evaluation (the paper's MMLU and commonsense-QA tables) by two protocols. The
 * log-likelihood protocol of EleutherAI's lm-evaluation-harness: {@link McItem} and its JSONL
 * format, {@link MultipleChoice} (prompts with seeded k-shot examples, acc and acc_norm with
 * standard errors), and {@link GlossCompletion}, the built-in task made from the WordNet test
 * split. The official IntactKV MMLU protocol ({@code eval_utils/mmlu.py}): {@link MmluFormat} (the
 * prompt text), {@link MmluSplit} (dev and test items per subject), {@link MmluOfficial} (the
 * letters' logits at the last position) and {@link MmluReport} with {@link MmluCategories}
 * (accuracy per subject, subcategory, category and over all items).
 */
package intactkv.eval;

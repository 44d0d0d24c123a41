/**
 * Log-likelihood multiple-choice evaluation (the paper's MMLU and commonsense-QA tables), with
 * the conventions of EleutherAI's lm-evaluation-harness: {@link McItem} and its JSONL format,
 * {@link MultipleChoice} (prompts with seeded k-shot examples, acc and acc_norm with standard
 * errors), and {@link GlossCompletion}, the built-in task made from the WordNet test split.
 */
package intactkv.eval;

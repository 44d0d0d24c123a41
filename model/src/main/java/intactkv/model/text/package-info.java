/**
 * Text: the Hugging Face {@code tokenizer.json} BPE tokenizer of the LLaMA family, the Vicuna
 * chat template, and text generation.
 */
package intactkv.model.text;

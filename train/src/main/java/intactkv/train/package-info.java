/**
 * Training a small LLaMA from scratch: the built-in corpus (WordNet glosses from a Maven
 * dependency), a SentencePiece-style BPE tokenizer trainer, and the training loop.
 */
package intactkv.train;

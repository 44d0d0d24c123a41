package intactkv.quant;

import intactkv.model.io.FormatException;
import intactkv.model.io.Utf8;
import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

/**
 * Calibration sets for the quantizers, one loader per method as its official code builds it
 * ({@link CalibrationLoader}): GPTQ random windows of random documents
 * ({@link RandomDocumentWindows}), AWQ short documents cut into blocks
 * ({@link ShortDocumentBlocks}), QuaRot and OmniQuant random windows of the joined text
 * ({@link JoinedTextWindows}). None of them overwrites a token with [BOS]: [BOS] is where the
 * tokenizer puts it, at the start of each tokenized text.
 *
 * <p>The earlier single loader stays as {@link #windows}: the text tokenized whole and every
 * window's first token overwritten with [BOS] (not the official sets; kept behind a flag).
 */
public final class Calibration {
    private Calibration() {
    }

    /**
     * Reads a data file (plain UTF-8 text) for evaluation or calibration through
     * {@link Utf8#readInput}: any readable file, a pipe such as {@code --data <(cat f)} included;
     * a missing path or a directory is refused by name; a leading byte-order mark is dropped (it is
     * not text to score). Malformed UTF-8 (with the byte offset) and a file with nothing but white
     * space are a {@link FormatException} naming the file, never replaced characters.
     */
    public static String readText(Path file) throws IOException {
        String s = Utf8.readInput(file, "data file");
        if (s.isBlank()) {
            throw new FormatException(file, "the data file is empty");
        }
        return s;
    }

    /** The seed {@link #windows} used by default (the CLI's {@code --qseed} and the demo's). */
    public static final long LEGACY_SEED = 42;

    /** The documents of a calibration file, split as {@link DocumentSplit#AUTO} says. */
    public static List<String> documents(String text) {
        return DocumentSplit.AUTO.split(text);
    }

    /**
     * The calibration set of {@code method}'s official loader, drawn from {@code documents}.
     *
     * @param method    gptq, awq, quarot or omniquant ({@link CalibrationLoader#of})
     * @param tok       the model's tokenizer; its default encoding ([BOS] first for LLaMA) as upstream's
     *                  {@code tokenizer(text)} / {@code tokenizer.encode(line)}
     * @param documents the documents in file order (not modified)
     * @param nsamples  windows (gptq, quarot, omniquant) or documents kept (awq)
     * @param seqlen    window length, or awq's block length
     * @param seed      the loader's seed; null: the official one ({@link CalibrationLoader#officialSeed}),
     *                  or {@link #LEGACY_SEED} with {@code bosFirst}
     * @param bosFirst  the earlier loader instead: {@link #windows} over the documents joined by a
     *                  blank line (what the demo has passed it), not an official set
     * @param source    names the data in messages (the file)
     * @throws IllegalArgumentException naming {@code source}, the loader and the numbers when the
     *         documents cannot give the set asked for (before any model work: this only tokenizes)
     */
    public static List<int[]> load(Method method, Tokenizer tok, List<String> documents, int nsamples, int seqlen,
                                   Long seed, boolean bosFirst, String source) {
        CalibrationLoader loader = CalibrationLoader.of(method);
        checkSizes(loader, nsamples, seqlen);
        if (documents.isEmpty()) {
            throw new IllegalArgumentException(source + ": " + loader.label() + " has no documents to draw from");
        }
        if (bosFirst) {
            return windows(tok, String.join("\n\n", documents), nsamples, seqlen, seed == null ? LEGACY_SEED : seed, source);
        }
        long s = seed == null ? loader.officialSeed() : seed;
        return switch (loader) {
            case GPTQ -> RandomDocumentWindows.load(tok, documents, nsamples, seqlen, s, source);
            case AWQ -> ShortDocumentBlocks.load(tok, documents, nsamples, seqlen, s, source);
            case QUAROT, OMNIQUANT -> JoinedTextWindows.load(tok, documents, nsamples, seqlen, s, loader, source);
        };
    }

    /**
     * The calibration set of a whole file's {@code text}: with {@code bosFirst}, {@link #windows}
     * over the text exactly as read (the earlier behaviour, bit for bit); otherwise
     * {@link #load(Method, Tokenizer, List, int, int, Long, boolean, String)} over
     * {@code split.split(text)}.
     */
    public static List<int[]> load(Method method, Tokenizer tok, String text, DocumentSplit split, int nsamples,
                                   int seqlen, Long seed, boolean bosFirst, String source) {
        if (bosFirst) {
            checkSizes(CalibrationLoader.of(method), nsamples, seqlen);
            return windows(tok, text, nsamples, seqlen, seed == null ? LEGACY_SEED : seed, source);
        }
        return load(method, tok, split.split(text), nsamples, seqlen, seed, false, source);
    }

    /** Refuses fewer than 1 sample or sequences shorter than 2 tokens, naming the loader. */
    static void checkSizes(CalibrationLoader loader, int nsamples, int seqlen) {
        if (nsamples < 1 || seqlen < 2) {
            throw new IllegalArgumentException(loader.label() + " needs at least 1 sample of at least 2 tokens, got "
                    + nsamples + " x " + seqlen);
        }
    }

    /** {@code tok.encode(documents[d])} (default [BOS]), computed on first use and kept. */
    static IntFunction<int[]> cachedEncoding(Tokenizer tok, List<String> documents) {
        int[][] cache = new int[documents.size()][];
        return d -> {
            if (cache[d] == null) {
                cache[d] = tok.encode(documents.get(d));
            }
            return cache[d];
        };
    }

    /**
     * The earlier loader, not an official one: {@code text} tokenized whole without [BOS], {@code n}
     * windows of {@code seqlen} tokens at offsets drawn by {@code java.util.Random(seed)}, each
     * window's first token overwritten with [BOS].
     */
    public static List<int[]> windows(Tokenizer tok, String text, int n, int seqlen, long seed, String source) {
        if (n < 1 || seqlen < 2) {
            throw new IllegalArgumentException("calibration needs at least 1 sample of at least 2 tokens, got " + n
                    + " x " + seqlen);
        }
        int[] ids = tok.encode(text, false);
        if (ids.length < seqlen + 1) {
            throw new IllegalArgumentException(source + ": calibration text has " + ids.length + " tokens, too short for"
                    + " windows of " + seqlen + " (use a longer file or a shorter sequence length)");
        }
        Random rng = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int start = rng.nextInt(ids.length - seqlen);
            int[] w = java.util.Arrays.copyOfRange(ids, start, start + seqlen);
            w[0] = tok.bosId();
            out.add(w);
        }
        return out;
    }
}

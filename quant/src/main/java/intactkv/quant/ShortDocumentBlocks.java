package intactkv.quant;

import intactkv.model.text.Tokenizer;
import intactkv.tensor.PythonRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * AWQ's calibration set: the documents in shuffled order, each stripped and tokenized with the
 * tokenizer's default encoding ([BOS] first for LLaMA); a document of more than
 * {@value #MAX_DOCUMENT_TOKENS} tokens or of none is passed over; the first {@code n} kept are
 * concatenated and cut into {@code floor(total / B)} blocks of {@code B} tokens (the rest is
 * dropped). Every kept document brings its own [BOS], so [BOS] appears wherever a document
 * starts inside a block, and a block starts with [BOS] only where a document happens to start.
 * <pre>
 *   order = shuffle(0..D-1, seed)
 *   kept  = the first n documents d in order with 0 &lt; len(tokenize(strip(doc[d]))) &lt;= 512
 *   cat   = concatenation of their ids;   blocks = cat[b*B : (b+1)*B] for b &lt; len(cat) / B
 * </pre>
 * The limit is the literal 512 upstream, whatever the block length.
 *
 * <p>Reference: {@code llm_awq/utils/calib_data.py::get_calib_dataset} (as called by
 * {@code llm_awq/quantize/pre_quant.py::run_awq} with {@code n_samples=128, seqlen=512}).
 * Deviation: upstream shuffles the Hugging Face dataset ({@code dataset.shuffle(seed=42)}, numpy's
 * PCG64 permutation), which is not reproduced; here the order is CPython's
 * {@code random.seed(seed); random.shuffle(list(range(D)))} ({@link PythonRandom#shuffle}).
 * {@code strip} is Python's {@code str.strip()} (its white space, {@link #pythonStrip}).
 */
public final class ShortDocumentBlocks {
    /** Documents with more tokens than this are passed over (the literal in {@code get_calib_dataset}). */
    public static final int MAX_DOCUMENT_TOKENS = 512;

    private ShortDocumentBlocks() {
    }

    /** The order documents are read in: {@code random.seed(seed); random.shuffle(list(range(documents)))}. */
    public static List<Integer> order(int documents, long seed) {
        List<Integer> order = new ArrayList<>(documents);
        for (int d = 0; d < documents; d++) {
            order.add(d);
        }
        new PythonRandom(seed).shuffle(order);
        return order;
    }

    /**
     * The documents kept, in the order read, with {@code tokens} giving each document's ids
     * (already stripped and tokenized).
     *
     * @throws IllegalArgumentException naming {@code source} when fewer than {@code nsamples}
     *         documents have 1..512 tokens
     */
    public static List<Integer> kept(int documents, IntFunction<int[]> tokens, int nsamples, long seed, String source) {
        List<Integer> kept = new ArrayList<>(nsamples);
        int tooLong = 0;
        int empty = 0;
        for (int d : order(documents, seed)) {
            int len = tokens.apply(d).length;
            if (len > MAX_DOCUMENT_TOKENS) {
                tooLong++;
            } else if (len == 0) {
                empty++;
            } else {
                kept.add(d);
                if (kept.size() == nsamples) {
                    return kept;
                }
            }
        }
        throw new IllegalArgumentException(source + ": " + CalibrationLoader.AWQ.label() + " needs " + nsamples
                + " documents of 1.." + MAX_DOCUMENT_TOKENS + " tokens, but only " + kept.size() + " of its " + documents
                + " documents qualify (" + tooLong + " longer, " + empty + " empty; use more documents or fewer samples)");
    }

    /** {@code kept}'s token ids concatenated and cut into whole blocks of {@code blockSize}. */
    public static List<int[]> blocks(List<Integer> kept, IntFunction<int[]> tokens, int blockSize, String source) {
        int total = 0;
        for (int d : kept) {
            total += tokens.apply(d).length;
        }
        if (total < blockSize) {
            throw new IllegalArgumentException(source + ": " + CalibrationLoader.AWQ.label() + " cuts blocks of "
                    + blockSize + " tokens, but the " + kept.size() + " documents kept have " + total
                    + " tokens in all (use more samples or a shorter sequence length)");
        }
        int[] cat = new int[total];
        int at = 0;
        for (int d : kept) {
            int[] ids = tokens.apply(d);
            System.arraycopy(ids, 0, cat, at, ids.length);
            at += ids.length;
        }
        List<int[]> out = new ArrayList<>(total / blockSize);
        for (int b = 0; b < total / blockSize; b++) {
            out.add(Arrays.copyOfRange(cat, b * blockSize, (b + 1) * blockSize));
        }
        return out;
    }

    /** The AWQ calibration set of {@code documents} (file order): {@code nsamples} documents, blocks of {@code blockSize}. */
    public static List<int[]> load(Tokenizer tok, List<String> documents, int nsamples, int blockSize, long seed,
                                   String source) {
        Calibration.checkSizes(CalibrationLoader.AWQ, nsamples, blockSize);
        List<String> stripped = documents.stream().map(ShortDocumentBlocks::pythonStrip).toList();
        IntFunction<int[]> tokens = Calibration.cachedEncoding(tok, stripped);
        return blocks(kept(documents.size(), tokens, nsamples, seed, source), tokens, blockSize, source);
    }

    /**
     * Python's {@code str.strip()}: removes leading and trailing characters for which
     * {@code str.isspace()} holds (U+0009..U+000D, U+001C..U+001F, space, U+0085, U+00A0, U+1680,
     * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; Java's {@link String#strip} differs
     * on U+0085, U+00A0, U+2007 and U+202F).
     */
    public static String pythonStrip(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && isPythonSpace(s.charAt(a))) {
            a++;
        }
        while (b > a && isPythonSpace(s.charAt(b - 1))) {
            b--;
        }
        return s.substring(a, b);
    }

    static boolean isPythonSpace(char c) {
        return c >= 0x09 && c <= 0x0d || c >= 0x1c && c <= 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680
                || c >= 0x2000 && c <= 0x200a || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
    }
}

package intactkv.quant;

import intactkv.model.text.Tokenizer;
import intactkv.tensor.PythonRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * GPTQ's calibration set: {@code n} windows of {@code T} tokens, each at a random offset of a
 * random document that is long enough. With {@code random.seed(seed)} once, for each sample:
 * <pre>
 *   repeat: i = randint(0, D - 1); ids = tokenize(doc[i])   until len(ids) &gt; T
 *   o = randint(0, len(ids) - T - 1);  window = ids[o : o + T]
 * </pre>
 * where D is the number of documents and {@code tokenize} is the tokenizer's default encoding
 * (the LLaMA tokenizer puts [BOS] first, so a window at offset 0 starts with [BOS] and no other
 * does; nothing is overwritten). The last token of a document is never in a window, as upstream.
 * Draws use {@link PythonRandom}, so given the same documents and token ids the same documents and
 * offsets are picked as by the official code.
 *
 * <p>Reference: IntactKV {@code quantize_with_gptq.py::get_c4} and {@code utils/datautils.py::get_c4_new}
 * (eval_mode=False), both from GPTQ's {@code datautils.py::get_c4}. One difference, only where the
 * official code fails: upstream accepts a document of exactly {@code T} tokens
 * ({@code >= seqlen}) and then raises in {@code randint(0, -1)}; here such a document is drawn
 * past like a short one, so every run the official code completes is reproduced draw for draw.
 */
public final class RandomDocumentWindows {
    private RandomDocumentWindows() {
    }

    /** One window: the document it was cut from (index in file order) and its first token's offset. */
    public record Pick(int document, int offset) {
    }

    /**
     * The official draws over {@code documents} documents whose token ids {@code tokens} gives
     * (called lazily, at most once per document if the caller caches).
     *
     * @throws IllegalArgumentException naming {@code source} when no document has more than
     *         {@code seqlen} tokens (the official loop would never end)
     */
    public static List<Pick> pick(int documents, IntFunction<int[]> tokens, int nsamples, int seqlen, long seed,
                                  String source) {
        Calibration.checkSizes(CalibrationLoader.GPTQ, nsamples, seqlen);
        int longest = 0;
        boolean any = false;
        for (int d = 0; d < documents && !any; d++) {
            int len = tokens.apply(d).length;
            longest = Math.max(longest, len);
            any = len > seqlen;
        }
        if (!any) {
            throw new IllegalArgumentException(source + ": " + CalibrationLoader.GPTQ.label() + " needs a document of"
                    + " more than " + seqlen + " tokens, but the longest of its " + documents + " documents has "
                    + longest + " (use longer documents, e.g. the whole file as one, or a shorter sequence length)");
        }
        PythonRandom rng = new PythonRandom(seed);
        List<Pick> picks = new ArrayList<>(nsamples);
        for (int k = 0; k < nsamples; k++) {
            int d;
            int len;
            do {
                d = (int) rng.randint(0, documents - 1L);
                len = tokens.apply(d).length;
            } while (len <= seqlen);
            picks.add(new Pick(d, (int) rng.randint(0, len - seqlen - 1L)));
        }
        return picks;
    }

    /** The windows of {@code picks}: {@code tokens(document)[offset : offset + seqlen]}. */
    public static List<int[]> windows(List<Pick> picks, IntFunction<int[]> tokens, int seqlen) {
        List<int[]> out = new ArrayList<>(picks.size());
        for (Pick p : picks) {
            out.add(Arrays.copyOfRange(tokens.apply(p.document()), p.offset(), p.offset() + seqlen));
        }
        return out;
    }

    /**
     * The GPTQ calibration set of {@code documents} (file order), each tokenized with
     * {@code tok.encode(doc)} on first draw.
     */
    public static List<int[]> load(Tokenizer tok, List<String> documents, int nsamples, int seqlen, long seed,
                                   String source) {
        IntFunction<int[]> tokens = Calibration.cachedEncoding(tok, documents);
        return windows(pick(documents.size(), tokens, nsamples, seqlen, seed, source), tokens, seqlen);
    }
}

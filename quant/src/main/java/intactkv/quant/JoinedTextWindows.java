package intactkv.quant;

import intactkv.model.text.Tokenizer;
import intactkv.tensor.PythonRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * QuaRot's and OmniQuant's calibration set: the documents joined by a blank line
 * ({@code "\n\n".join(docs)}, as WikiText-2's rows are), tokenized whole with the tokenizer's
 * default encoding ([BOS] first for LLaMA, so only a window at offset 0 starts with it), then
 * {@code n} windows of {@code T} tokens at offsets drawn after {@code random.seed(seed)}:
 * <pre>
 *   o = randint(0, N - T - 1);  window = ids[o : o + T]        (N = len(ids))
 * </pre>
 * The last token is never in a window, as upstream. Draws use {@link PythonRandom}, so the same
 * token ids give the official offsets.
 *
 * <p>Reference: IntactKV {@code utils/datautils.py::get_wikitext2} (eval_mode=False; called from
 * {@code intactkv_quarot.py::main} with QuaRot's seed 0) and OpenGVLab/OmniQuant
 * {@code datautils.py::get_wikitext2} (seed 2), both from GPTQ's {@code datautils.py}.
 */
public final class JoinedTextWindows {
    private JoinedTextWindows() {
    }

    /**
     * The official offsets for a text of {@code tokens} token ids.
     *
     * @throws IllegalArgumentException naming {@code source} and {@code loader} when the text has
     *         fewer than {@code seqlen + 1} tokens
     */
    public static int[] offsets(int tokens, int nsamples, int seqlen, long seed, CalibrationLoader loader,
                                String source) {
        Calibration.checkSizes(loader, nsamples, seqlen);
        if (tokens < seqlen + 1) {
            throw new IllegalArgumentException(source + ": " + loader.label() + " needs more than " + seqlen
                    + " tokens of joined text, but it has " + tokens + " (use a longer file or a shorter sequence length)");
        }
        PythonRandom rng = new PythonRandom(seed);
        int[] out = new int[nsamples];
        for (int k = 0; k < nsamples; k++) {
            out[k] = (int) rng.randint(0, (long) tokens - seqlen - 1);
        }
        return out;
    }

    /** The windows {@code ids[o : o + seqlen]} at the official offsets. */
    public static List<int[]> windows(int[] ids, int nsamples, int seqlen, long seed, CalibrationLoader loader,
                                      String source) {
        List<int[]> out = new ArrayList<>(nsamples);
        for (int o : offsets(ids.length, nsamples, seqlen, seed, loader, source)) {
            out.add(Arrays.copyOfRange(ids, o, o + seqlen));
        }
        return out;
    }

    /** The text these loaders tokenize: {@code "\n\n".join(documents)}. */
    public static String join(List<String> documents) {
        return String.join("\n\n", documents);
    }

    /** The calibration set of {@code documents}: {@code tok.encode(join(documents))}, then {@link #windows}. */
    public static List<int[]> load(Tokenizer tok, List<String> documents, int nsamples, int seqlen, long seed,
                                   CalibrationLoader loader, String source) {
        Calibration.checkSizes(loader, nsamples, seqlen);
        return windows(tok.encode(join(documents)), nsamples, seqlen, seed, loader, source);
    }
}

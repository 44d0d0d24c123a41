package intactkv.quant;

/**
 * The calibration loader each quantizer's official code uses, with its official sample count,
 * sequence length and seed (what {@link Calibration#load} uses when the caller gives none).
 *
 * <table>
 *   <caption>official loaders</caption>
 *   <tr><th>method</th><th>official data, function, settings</th><th>ours</th></tr>
 *   <tr><td>gptq</td><td>C4 train shard; IntactKV {@code quantize_with_gptq.py::get_c4} (same draws as
 *       {@code utils/datautils.py::get_c4_new}): 128 windows of 2048, {@code random.seed(42)}</td>
 *       <td>{@link RandomDocumentWindows}</td></tr>
 *   <tr><td>awq</td><td>Pile-val; {@code llm_awq/utils/calib_data.py::get_calib_dataset} called by
 *       {@code llm_awq/quantize/pre_quant.py::run_awq} with {@code n_samples=128, seqlen=512} from
 *       {@code quantize_with_awq.py}; {@code dataset.shuffle(seed=42)}</td>
 *       <td>{@link ShortDocumentBlocks}</td></tr>
 *   <tr><td>quarot</td><td>WikiText-2 train; {@code utils/datautils.py::get_wikitext2} from
 *       {@code intactkv_quarot.py::main} with {@code quarot/utils.py::parser_gen} defaults
 *       ({@code --nsamples 128}, {@code --seed 0}, {@code --cal_dataset wikitext2}) and
 *       {@code model.seqlen = 2048} ({@code quarot/model_utils.py})</td>
 *       <td>{@link JoinedTextWindows}</td></tr>
 *   <tr><td>omniquant</td><td>WikiText-2 train; OpenGVLab/OmniQuant {@code datautils.py::get_wikitext2} from
 *       {@code main.py} defaults ({@code --calib_dataset wikitext2}, {@code --nsamples 128},
 *       {@code --seed 2}, {@code lm.seqlen = 2048})</td>
 *       <td>{@link JoinedTextWindows}</td></tr>
 * </table>
 */
public enum CalibrationLoader {
    /** Random windows at random offsets of random documents long enough (C4, seed 42). */
    GPTQ(128, 2048, 42, "random windows of random documents, utils/datautils.py::get_c4_new"),
    /** Shuffled documents of at most 512 tokens, concatenated and cut into blocks (Pile-val, seed 42). */
    AWQ(128, 512, 42, "documents of at most 512 tokens cut into blocks, llm_awq/utils/calib_data.py::get_calib_dataset"),
    /** Random windows of the documents joined by a blank line (WikiText-2, seed 0). */
    QUAROT(128, 2048, 0, "random windows of the joined text, utils/datautils.py::get_wikitext2"),
    /** Random windows of the documents joined by a blank line (WikiText-2, OmniQuant's seed 2). */
    OMNIQUANT(128, 2048, 2, "random windows of the joined text, OmniQuant datautils.py::get_wikitext2");

    private final int officialSamples;
    private final int officialSeqlen;
    private final long officialSeed;
    private final String description;

    CalibrationLoader(int officialSamples, int officialSeqlen, long officialSeed, String description) {
        this.officialSamples = officialSamples;
        this.officialSeqlen = officialSeqlen;
        this.officialSeed = officialSeed;
        this.description = description;
    }

    /** The loader of {@code method}; a method without calibration is refused. */
    public static CalibrationLoader of(Method method) {
        return switch (method) {
            case GPTQ -> GPTQ;
            case AWQ -> AWQ;
            case QUAROT -> QUAROT;
            case OMNIQUANT -> OMNIQUANT;
            default -> throw new IllegalArgumentException("--method " + method.id() + " takes no calibration data");
        };
    }

    /** Samples the official code asks for: windows (gptq, quarot, omniquant) or documents kept (awq). */
    public int officialSamples() {
        return officialSamples;
    }

    /** The official sequence length: window length, or awq's block length. */
    public int officialSeqlen() {
        return officialSeqlen;
    }

    /** The seed of the official {@code random.seed(...)} / {@code shuffle(seed=...)}. */
    public long officialSeed() {
        return officialSeed;
    }

    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** "the gptq calibration loader (random windows of ...)", for messages. */
    public String label() {
        return "the " + id() + " calibration loader (" + description + ")";
    }
}

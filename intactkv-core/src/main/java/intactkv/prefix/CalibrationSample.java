package intactkv.prefix;

import intactkv.model.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One calibration sequence for {@link PrefixCalibrator}: token ids that begin with the prefix
 * ids, and the positions whose layer outputs count in the loss (after the prefix; for
 * ShareGPT conversations only the assistant's tokens, {@link ShareGptSelection}).
 *
 * @param ids     the whole sequence, prefix included
 * @param counted indices (into ids) of the positions that count, all at or after the prefix
 */
public record CalibrationSample(int[] ids, int[] counted) {
    public CalibrationSample {
        if (counted.length == 0) {
            throw new IllegalArgumentException("a calibration sample has no tokens that count in the loss");
        }
    }

    /**
     * Plain text: {@code n} random windows of {@code seqlen - p} tokens (seeded), each put
     * after the prefix ids; every token after the prefix counts.
     */
    public static List<CalibrationSample> fromText(Tokenizer tok, String text, int[] prefixIds, int n, int seqlen,
                                                   long seed, String source) {
        int body = seqlen - prefixIds.length;
        if (body < 1) {
            throw new IllegalArgumentException("the prefix (" + prefixIds.length + " tokens) leaves no room in samples of "
                    + seqlen + " tokens");
        }
        int[] ids = tok.encode(text, false);
        if (ids.length < body + 1) {
            throw new IllegalArgumentException(source + ": " + ids.length + " tokens, too few for samples of " + body
                    + " tokens after the prefix");
        }
        Random rng = new Random(seed);
        List<CalibrationSample> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            int start = rng.nextInt(ids.length - body);
            int[] s = new int[seqlen];
            System.arraycopy(prefixIds, 0, s, 0, prefixIds.length);
            System.arraycopy(ids, start, s, prefixIds.length, body);
            int[] counted = new int[body];
            for (int i = 0; i < body; i++) {
                counted[i] = prefixIds.length + i;
            }
            out.add(new CalibrationSample(s, counted));
        }
        return out;
    }
}

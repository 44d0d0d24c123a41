package intactkv.quant;

import intactkv.model.io.FormatException;
import intactkv.model.io.Utf8;
import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Calibration sequences for GPTQ, AWQ and learnable clipping, as GPTQ's {@code get_loaders}:
 * the text is tokenized whole and {@code n} windows of {@code seqlen} tokens are cut at
 * random (seeded) offsets. Each window starts with [BOS], as the evaluation windows do.
 */
public final class Calibration {
    private Calibration() {
    }

    /**
     * Reads a data file (plain UTF-8 text) for evaluation or calibration: malformed UTF-8 (with the
     * byte offset) and a file with nothing but white space are a {@link FormatException} naming
     * the file, never replaced characters.
     */
    public static String readText(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString(), null, "no such data file");
        }
        String s = Utf8.read(file);
        if (s.isBlank()) {
            throw new FormatException(file, "the data file is empty");
        }
        return s;
    }

    /** {@code n} random windows of {@code seqlen} tokens from {@code text}, first token replaced by [BOS]. */
    public static List<int[]> windows(Tokenizer tok, String text, int n, int seqlen, long seed, String source) {
        if (n < 1 || seqlen < 2) {
            throw new IllegalArgumentException("calibration needs at least 1 sample of at least 2 tokens, got " + n
                    + " x " + seqlen);
        }
        int[] ids = tok.encode(text, false);
        if (ids.length < seqlen + 1) {
            throw new IllegalArgumentException(source + ": calibration text has " + ids.length + " tokens, too short for"
                    + " windows of " + seqlen + " (use a longer file or a smaller --seqlen)");
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

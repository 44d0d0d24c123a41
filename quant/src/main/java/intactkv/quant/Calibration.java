package intactkv.quant;

import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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

    /** Reads a UTF-8 text file, with errors that name the file. */
    public static String readText(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": no such data file");
        }
        byte[] bytes = Files.readAllBytes(file);
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            if (s.isBlank()) {
                throw new IOException(file + ": the data file is empty");
            }
            return s;
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not UTF-8 text", e);
        }
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

package intactkv.model.text;

import com.google.gson.JsonElement;
import intactkv.model.LlamaConfig;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Whether a tokenizer belongs to a model: its ids are rows of the model's embedding, so a
 * tokenizer from another model (the same format, another vocabulary) runs without error and
 * gives meaningless numbers. The rule, with T = the tokenizer's size (its highest id + 1, added
 * tokens included) and V = config.json's {@code vocab_size}:
 * <ul>
 *   <li>T &gt; V is refused: the tokenizer produces ids the embedding does not have.</li>
 *   <li>T = V is the normal case (LLaMA, LLaMA-2, LLaMA-3, Vicuna, TinyLlama, and the built-in
 *       model all have it).</li>
 *   <li>T &lt; V is accepted only as padding: V is T rounded up to a multiple of m, for an m in
 *       8, 16, ..., 128 (V divisible by m and V - T &lt; m), which is how checkpoints pad their
 *       embedding for aligned matrix sizes; the ids T..V-1 are then never produced, and
 *       {@link #check} returns a one-line note saying so. Any other gap means another
 *       tokenizer (the built-in 1024-row weights with a 420-piece tokenizer: 1024 is a
 *       multiple of 128, but 604 rows apart is not padding) and is refused.</li>
 *   <li>[BOS] and [EOS]: where config.json gives {@code bos_token_id} / {@code eos_token_id} (a
 *       list for EOS: any of them) and the tokenizer has the token, the ids must be equal. [BOS]
 *       is the tokenizer's own (its post-processor template); [EOS] is compared only when it is
 *       SentencePiece's {@code </s>}, the one end token of LLaMA, LLaMA-2, Vicuna and TinyLlama:
 *       LLaMA-3's chat models end turns with {@code <|eot_id|>} and their config may name only
 *       that, so {@code <|end_of_text|>} is no evidence of a foreign tokenizer.</li>
 * </ul>
 * Refusals name both files and both numbers.
 */
public final class TokenizerFit {
    private TokenizerFit() {
    }

    /**
     * Checks {@code tok} (read from {@code tokenizerFile}) against {@code configFile}; returns a
     * note to show the user when the embedding has padding rows, else null.
     */
    public static String check(Tokenizer tok, Path tokenizerFile, Path configFile) throws IOException {
        LlamaConfig c = LlamaConfig.read(configFile);
        JsonFields raw = JsonFile.read(configFile);
        int t = tok.vocabSize();
        int v = c.vocabSize();
        String both = "it has " + t + " tokens (added tokens included), but " + configFile + " says vocab_size " + v;
        if (t > v) {
            throw new FormatException(tokenizerFile, "tokenizer does not fit the model: " + both + "; ids " + v + ".."
                    + (t - 1) + " have no embedding row. Use the tokenizer.json that came with the weights");
        }
        if (t < v && !isPadding(t, v)) {
            throw new FormatException(tokenizerFile, "tokenizer does not fit the model: " + both + "; " + (v - t)
                    + " rows more than the tokenizer is not padding to a multiple of 8..128, so this is another model's"
                    + " tokenizer. Use the tokenizer.json that came with the weights");
        }
        if (raw.has("bos_token_id") && tok.bosId() >= 0 && tok.bosId() != c.bosTokenId()) {
            throw new FormatException(tokenizerFile, "tokenizer does not fit the model: its [BOS] '"
                    + tok.piece(tok.bosId()) + "' has id " + tok.bosId() + ", but " + configFile + " says bos_token_id "
                    + c.bosTokenId() + ". Use the tokenizer.json that came with the weights");
        }
        if (raw.has("eos_token_id") && tok.eosId() >= 0 && tok.piece(tok.eosId()).equals("</s>")
                && !eosIds(raw).contains(tok.eosId())) {
            throw new FormatException(tokenizerFile, "tokenizer does not fit the model: its [EOS] '"
                    + tok.piece(tok.eosId()) + "' has id " + tok.eosId() + ", but " + configFile + " says eos_token_id "
                    + raw.required("eos_token_id") + ". Use the tokenizer.json that came with the weights");
        }
        return t < v ? "note: " + tokenizerFile + " has " + t + " tokens and " + configFile + " vocab_size " + v
                + ": ids " + t + ".." + (v - 1) + " are padding rows of the embedding, never produced by the tokenizer"
                : null;
    }

    /** Whether V is T rounded up to a multiple of m for some m in 8, 16, 32, 64, 128. */
    static boolean isPadding(int t, int v) {
        for (int m = 8; m <= 128; m *= 2) {
            if (v % m == 0 && v - t < m) {
                return true;
            }
        }
        return false;
    }

    private static java.util.List<Integer> eosIds(JsonFields raw) throws FormatException {
        JsonElement e = raw.required("eos_token_id");
        java.util.List<Integer> ids = new java.util.ArrayList<>();
        if (e.isJsonArray()) {
            for (JsonElement x : e.getAsJsonArray()) {
                ids.add((int) raw.integerValue(x, "eos_token_id[]", 0, LlamaConfig.MAX_SIZE));
            }
        } else {
            ids.add((int) raw.integerValue(e, "eos_token_id", 0, LlamaConfig.MAX_SIZE));
        }
        return ids;
    }
}

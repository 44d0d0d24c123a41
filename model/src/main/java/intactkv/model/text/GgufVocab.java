package intactkv.model.text;

import intactkv.model.gguf.GgufArray;
import intactkv.model.gguf.GgufFile;
import intactkv.model.io.FormatException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A GGUF file's vocabulary ({@code tokenizer.ggml.*}) as the project's {@link Tokenizer}, as
 * llama.cpp tokenizes with it (src/llama-vocab.cpp {@code llama_vocab::impl::load},
 * {@code llm_tokenizer_spm_session}, {@code llm_tokenizer_bpe}):
 * <ul>
 *   <li>{@code tokenizer.ggml.model = "llama"} (SentencePiece-style): spaces become "▁", one "▁"
 *       is prepended ({@code tokenizer.ggml.add_space_prefix}, default true), characters
 *       outside the vocabulary fall back to {@code <0xNN>} byte tokens, then the adjacent pair
 *       whose concatenation is a token with the highest {@code tokenizer.ggml.scores} entry is
 *       merged, the leftmost among equal scores, until none is. That is the project's merge-rank
 *       BPE with one merge for every split of every token into two tokens, ranked by the merged
 *       token's score (equal scores share a rank, so position decides, as in llama.cpp's
 *       {@code llm_bigram_spm} ordering).</li>
 *   <li>{@code "gpt2"} (byte-level BPE): {@code tokenizer.ggml.merges} ("left right", in rank
 *       order) and the split pattern of {@code tokenizer.ggml.pre}: {@code llama-bpe} (also
 *       llama3, llama-v3: LLaMA-3's pattern, a pre-token that is itself a token taken whole) or
 *       {@code gpt-2}. Others (llama.cpp knows dozens, and its {@code default} applies four
 *       patterns in turn) are refused by name.</li>
 * </ul>
 * Token types ({@code tokenizer.ggml.token_type}: 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte): control and user-defined tokens found literally in the text are split out
 * as themselves (as Hugging Face's added tokens; llama.cpp splits control tokens only when asked
 * to parse special tokens), control tokens are special (skipped by {@code decode(ids, true)}).
 * [BOS]/[EOS]/[UNK] are {@code tokenizer.ggml.bos_token_id} (default 1), {@code eos_token_id}
 * (2), {@code unknown_token_id} (0 for llama); {@code tokenizer.ggml.add_bos_token} whether
 * {@link Tokenizer#encode(String)} puts [BOS] first (default: true for llama and llama-bpe).
 */
public final class GgufVocab {
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int BYTE = 6;

    private GgufVocab() {
    }

    /** The tokenizer of GGUF file {@code file}; errors name the file and the metadata key. */
    public static Tokenizer load(Path file) throws IOException {
        try (GgufFile f = GgufFile.open(file)) {
            return of(f);
        }
    }

    /** The tokenizer of open file {@code f}. */
    public static Tokenizer of(GgufFile f) throws IOException {
        Map<String, Object> m = f.metadata();
        Path src = f.file();
        String model = string(f, "tokenizer.ggml.model");
        String[] pieces = array(f, "tokenizer.ggml.tokens", String[].class, "strings", true);
        int n = pieces.length;
        if (n == 0 || n > Tokenizer.MAX_VOCAB) {
            throw new FormatException(src, "metadata key 'tokenizer.ggml.tokens' has " + n + " tokens (1 to "
                    + Tokenizer.MAX_VOCAB + ")");
        }
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < n; i++) {
            Integer before = seen.put(pieces[i], i);
            if (before != null) {
                throw new FormatException(src, "metadata key 'tokenizer.ggml.tokens' has token '" + pieces[i]
                        + "' twice, at ids " + before + " and " + i);
            }
        }
        long[] types = array(f, "tokenizer.ggml.token_type", long[].class, "integers", false);
        if (types != null && types.length != n) {
            throw new FormatException(src, "metadata key 'tokenizer.ggml.token_type' has " + types.length
                    + " entries for " + n + " tokens");
        }
        boolean[] special = new boolean[n];
        Set<Integer> added = new HashSet<>();
        for (int i = 0; types != null && i < n; i++) {
            if (types[i] == CONTROL || types[i] == USER_DEFINED) {
                added.add(i);
                special[i] = types[i] == CONTROL;
            }
        }
        boolean spm = model.equals("llama");
        if (!spm && !model.equals("gpt2")) {
            throw new FormatException(src, "metadata key 'tokenizer.ggml.model' is '" + model + "'; only llama"
                    + " (SentencePiece-style) and gpt2 (byte-level BPE) are supported");
        }
        int bos = id(f, "tokenizer.ggml.bos_token_id", spm ? 1 : -1, n);
        int eos = id(f, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, n);
        int unk = id(f, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n);
        if (bool(f, "tokenizer.ggml.remove_extra_whitespaces", false)) {
            throw new FormatException(src, "metadata key 'tokenizer.ggml.remove_extra_whitespaces' is true, which"
                    + " this tokenizer does not do");
        }
        if (spm) {
            double[] scores = array(f, "tokenizer.ggml.scores", double[].class, "numbers", true);
            if (scores.length != n) {
                throw new FormatException(src, "metadata key 'tokenizer.ggml.scores' has " + scores.length
                        + " entries for " + n + " tokens");
            }
            boolean addBos = bool(f, "tokenizer.ggml.add_bos_token", true);
            return Tokenizer.of(src, pieces, scoreMerges(pieces, scores, types, seen), added, special, unk, bos, eos,
                    bool(f, "tokenizer.ggml.add_space_prefix", true), addBos && bos >= 0, null, false);
        }
        String pre = m.containsKey("tokenizer.ggml.pre") ? string(f, "tokenizer.ggml.pre") : "(absent)";
        String pattern;
        boolean llama3 = pre.equals("llama-bpe") || pre.equals("llama3") || pre.equals("llama-v3");
        if (llama3) {
            pattern = ByteLevel.LLAMA3;
        } else if (pre.equals("gpt-2")) {
            pattern = ByteLevel.GPT2;
        } else {
            throw new FormatException(src, "metadata key 'tokenizer.ggml.pre' is '" + pre + "'; only llama-bpe"
                    + " (LLaMA-3) and gpt-2 split patterns are supported");
        }
        String[] mergeText = array(f, "tokenizer.ggml.merges", String[].class, "strings", true);
        List<int[]> merges = new ArrayList<>(mergeText.length);
        for (int r = 0; r < mergeText.length; r++) {
            String t = mergeText[r];
            int sp = t.indexOf(' ', 1);
            Integer l = sp < 0 ? null : seen.get(t.substring(0, sp));
            Integer rt = sp < 0 ? null : seen.get(t.substring(sp + 1));
            Integer merged = sp < 0 ? null : seen.get(t.substring(0, sp) + t.substring(sp + 1));
            if (l == null || rt == null || merged == null) {
                throw new FormatException(src, "metadata key 'tokenizer.ggml.merges' entry " + r + " = \"" + t
                        + "\" is not \"left right\" of two tokens whose concatenation is a token");
            }
            merges.add(new int[] {l, rt, r, merged});
        }
        boolean addBos = bool(f, "tokenizer.ggml.add_bos_token", llama3);
        return Tokenizer.of(src, pieces, merges, added, special, unk, bos, eos, false, addBos && bos >= 0,
                new ByteLevel(pattern, false), llama3);
    }

    /**
     * SentencePiece-style merges from scores: for every token (byte tokens excepted) and every split
     * of its text into two tokens, a merge ranked by the token's score, highest first, equal
     * scores sharing a rank.
     */
    private static List<int[]> scoreMerges(String[] pieces, double[] scores, long[] types, Map<String, Integer> ids) {
        TreeSet<Double> distinct = new TreeSet<>();
        for (double s : scores) {
            distinct.add(s);
        }
        Map<Double, Integer> rank = new HashMap<>();
        for (double s : distinct.descendingSet()) {
            rank.put(s, rank.size());
        }
        List<int[]> out = new ArrayList<>();
        for (int t = 0; t < pieces.length; t++) {
            if (types != null && types[t] == BYTE) {
                continue;
            }
            String p = pieces[t];
            for (int k = p.offsetByCodePoints(0, Math.min(1, p.codePointCount(0, p.length()))); k > 0
                    && k < p.length(); k = p.offsetByCodePoints(k, 1)) {
                Integer l = ids.get(p.substring(0, k));
                Integer r = ids.get(p.substring(k));
                if (l != null && r != null) {
                    out.add(new int[] {l, r, rank.get(scores[t]), t});
                }
            }
        }
        // a pair that concatenates to one text makes one token; sorted so that the best rank is kept first
        out.sort((a, b) -> Integer.compare(a[2], b[2]));
        return out;
    }

    private static String string(GgufFile f, String key) throws FormatException {
        Object v = f.metadata().get(key);
        if (!(v instanceof String s)) {
            throw new FormatException(f.file(), v == null ? "missing metadata key '" + key + "'"
                    : "metadata key '" + key + "' must be a string, got " + v);
        }
        return s;
    }

    private static boolean bool(GgufFile f, String key, boolean dflt) throws FormatException {
        Object v = f.metadata().get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean b)) {
            throw new FormatException(f.file(), "metadata key '" + key + "' must be a bool, got " + v);
        }
        return b;
    }

    private static int id(GgufFile f, String key, int dflt, int n) throws FormatException {
        Object v = f.metadata().get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Long l) || l < 0 || l >= n) {
            throw new FormatException(f.file(), "metadata key '" + key + "' = " + v + " is not a token id in [0, " + n
                    + ")");
        }
        return (int) (long) l;
    }

    private static <T> T array(GgufFile f, String key, Class<T> kind, String kindName, boolean required)
            throws FormatException {
        Object v = f.metadata().get(key);
        if (v == null && !required) {
            return null;
        }
        if (!(v instanceof GgufArray a) || !kind.isInstance(a.values())) {
            throw new FormatException(f.file(), v == null ? "missing metadata key '" + key + "'"
                    : "metadata key '" + key + "' must be an array of " + kindName + ", got " + v);
        }
        return kind.cast(a.values());
    }
}

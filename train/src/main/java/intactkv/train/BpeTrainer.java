package intactkv.train;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import intactkv.model.io.AtomicFiles;
import intactkv.model.text.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A SentencePiece-style BPE tokenizer trainer with byte fallback, written for this project,
 * whose output is a Hugging Face {@code tokenizer.json} that {@link Tokenizer} loads.
 *
 * <ol>
 *   <li>Every text is split at spaces and each word gets the visible space "▁" in front
 *       (SentencePiece's dummy prefix and whitespace handling), so no piece spans two words.</li>
 *   <li>The initial vocabulary is {@code <unk>, <s>, </s>}, the 256 byte tokens
 *       {@code <0x00>..<0xFF>}, and the most frequent characters covering
 *       {@link #CHARACTER_COVERAGE} of all character occurrences; rarer characters are left to
 *       the byte fallback.</li>
 *   <li>Repeatedly the most frequent adjacent pair of symbols (counted over word types
 *       weighted by frequency; ties broken by the pair's text) is merged into a new symbol,
 *       until the vocabulary has the requested size. The merges, in order, are the
 *       tokenizer's merge ranks.</li>
 * </ol>
 */
public final class BpeTrainer {
    /** Fraction of character occurrences the initial alphabet covers (SentencePiece's default 0.9995). */
    public static final double CHARACTER_COVERAGE = 0.9995;

    private BpeTrainer() {
    }

    /** The learned vocabulary (id order) and merges (rank order). */
    public record Model(List<String> pieces, List<String[]> merges) {
    }

    /** Trains a vocabulary of {@code vocabSize} pieces on {@code texts}. */
    public static Model train(List<String> texts, int vocabSize) {
        Map<String, Integer> wordFreq = new HashMap<>();
        for (String t : texts) {
            for (String w : t.split(" ")) {
                if (!w.isEmpty()) {
                    wordFreq.merge(Tokenizer.SPACE + w, 1, Integer::sum);
                }
            }
        }
        // alphabet by frequency, up to the coverage
        Map<String, Long> charFreq = new HashMap<>();
        long total = 0;
        for (Map.Entry<String, Integer> e : wordFreq.entrySet()) {
            String w = e.getKey();
            for (int off = 0; off < w.length(); ) {
                int cp = w.codePointAt(off);
                off += Character.charCount(cp);
                charFreq.merge(new String(Character.toChars(cp)), (long) e.getValue(), Long::sum);
                total += e.getValue();
            }
        }
        List<String> chars = new ArrayList<>(charFreq.keySet());
        chars.sort((a, b) -> charFreq.get(b).equals(charFreq.get(a)) ? a.compareTo(b)
                : Long.compare(charFreq.get(b), charFreq.get(a)));
        List<String> pieces = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
        }
        Map<String, Integer> id = new HashMap<>();
        long covered = 0;
        for (String c : chars) {
            if (covered >= CHARACTER_COVERAGE * total && !c.equals(Tokenizer.SPACE)) {
                break;
            }
            if (pieces.size() >= vocabSize) {
                throw new IllegalArgumentException("vocabulary size " + vocabSize + " leaves no room for the alphabet");
            }
            id.put(c, pieces.size());
            pieces.add(c);
            covered += charFreq.get(c);
        }
        // words as symbol-id sequences; -1 marks a character left to the byte fallback (never merged)
        List<int[]> words = new ArrayList<>();
        List<Integer> freq = new ArrayList<>();
        for (Map.Entry<String, Integer> e : wordFreq.entrySet()) {
            String w = e.getKey();
            int[] s = w.codePoints().map(cp -> id.getOrDefault(new String(Character.toChars(cp)), -1)).toArray();
            words.add(s);
            freq.add(e.getValue());
        }
        Map<Long, Long> pairCount = new HashMap<>();
        Map<Long, Set<Integer>> pairWords = new HashMap<>();
        for (int w = 0; w < words.size(); w++) {
            addPairs(words.get(w), w, freq.get(w), pairCount, pairWords, 1);
        }
        List<String[]> merges = new ArrayList<>();
        while (pieces.size() < vocabSize && !pairCount.isEmpty()) {
            long best = -1;
            long bestCount = 0;
            String bestText = null;
            for (Map.Entry<Long, Long> e : pairCount.entrySet()) {
                long c = e.getValue();
                if (c < bestCount || c == 0) {
                    continue;
                }
                String text = pieces.get((int) (e.getKey() >> 32)) + " " + pieces.get((int) (long) e.getKey());
                if (c > bestCount || text.compareTo(bestText) < 0) {
                    best = e.getKey();
                    bestCount = c;
                    bestText = text;
                }
            }
            if (best < 0) {
                break;
            }
            int a = (int) (best >> 32);
            int b = (int) best;
            String merged = pieces.get(a) + pieces.get(b);
            int m = pieces.size();
            pieces.add(merged);
            merges.add(new String[] {pieces.get(a), pieces.get(b)});
            for (int w : new ArrayList<>(pairWords.getOrDefault(best, Set.of()))) {
                int[] s = words.get(w);
                addPairs(s, w, freq.get(w), pairCount, pairWords, -1);
                int[] t = mergeWord(s, a, b, m);
                words.set(w, t);
                addPairs(t, w, freq.get(w), pairCount, pairWords, 1);
            }
            pairCount.remove(best);
            pairWords.remove(best);
        }
        return new Model(pieces, merges);
    }

    private static void addPairs(int[] s, int w, int f, Map<Long, Long> count, Map<Long, Set<Integer>> words, int sign) {
        for (int i = 0; i + 1 < s.length; i++) {
            if (s[i] < 0 || s[i + 1] < 0) {
                continue;
            }
            long key = ((long) s[i] << 32) | (s[i + 1] & 0xffffffffL);
            long c = count.merge(key, (long) sign * f, Long::sum);
            if (sign > 0) {
                words.computeIfAbsent(key, k -> new HashSet<>()).add(w);
            } else if (c <= 0) {
                count.remove(key);
            }
        }
    }

    private static int[] mergeWord(int[] s, int a, int b, int m) {
        int[] out = new int[s.length];
        int n = 0;
        for (int i = 0; i < s.length; i++) {
            if (i + 1 < s.length && s[i] == a && s[i + 1] == b) {
                out[n++] = m;
                i++;
            } else {
                out[n++] = s[i];
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /**
     * Writes {@code model} as a LLaMA-style {@code tokenizer.json}: Prepend("▁") and
     * Replace(" ", "▁") normaliser, BPE with byte fallback, [BOS] added by the post-processor,
     * and the matching decoder.
     */
    public static void write(Model model, Path file) throws IOException {
        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        JsonArray added = new JsonArray();
        for (int i = 0; i < 3; i++) {
            JsonObject a = new JsonObject();
            a.addProperty("id", i);
            a.addProperty("content", model.pieces().get(i));
            a.addProperty("single_word", false);
            a.addProperty("lstrip", false);
            a.addProperty("rstrip", false);
            a.addProperty("normalized", false);
            a.addProperty("special", true);
            added.add(a);
        }
        root.add("added_tokens", added);
        JsonObject normalizer = new JsonObject();
        normalizer.addProperty("type", "Sequence");
        JsonArray ns = new JsonArray();
        JsonObject prepend = new JsonObject();
        prepend.addProperty("type", "Prepend");
        prepend.addProperty("prepend", Tokenizer.SPACE);
        ns.add(prepend);
        JsonObject replace = new JsonObject();
        replace.addProperty("type", "Replace");
        JsonObject pattern = new JsonObject();
        pattern.addProperty("String", " ");
        replace.add("pattern", pattern);
        replace.addProperty("content", Tokenizer.SPACE);
        ns.add(replace);
        normalizer.add("normalizers", ns);
        root.add("normalizer", normalizer);
        root.add("pre_tokenizer", null);
        root.add("post_processor", JsonParserHolder.parse("{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":"
                + "{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],"
                + "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}}"));
        root.add("decoder", JsonParserHolder.parse("{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
                + "{\"String\":\"\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
                + "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}"));
        JsonObject bpe = new JsonObject();
        bpe.addProperty("type", "BPE");
        bpe.add("dropout", null);
        bpe.addProperty("unk_token", "<unk>");
        bpe.addProperty("fuse_unk", true);
        bpe.addProperty("byte_fallback", true);
        JsonObject vocab = new JsonObject();
        Map<String, Integer> seen = new LinkedHashMap<>();
        for (int i = 0; i < model.pieces().size(); i++) {
            if (seen.putIfAbsent(model.pieces().get(i), i) == null) {
                vocab.addProperty(model.pieces().get(i), i);
            }
        }
        bpe.add("vocab", vocab);
        JsonArray merges = new JsonArray();
        for (String[] m : model.merges()) {
            merges.add(m[0] + " " + m[1]);
        }
        bpe.add("merges", merges);
        root.add("model", bpe);
        AtomicFiles.writeString(file, new GsonBuilder().disableHtmlEscaping().serializeNulls().create().toJson(root));
    }

    /** Parses a JSON literal (the fixed parts of the file). */
    private static final class JsonParserHolder {
        static com.google.gson.JsonElement parse(String s) {
            return com.google.gson.JsonParser.parseString(s);
        }
    }
}

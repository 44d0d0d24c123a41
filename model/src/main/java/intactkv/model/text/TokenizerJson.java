package intactkv.model.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reader of Hugging Face's {@code tokenizer.json} for {@link Tokenizer}: the vocabulary and
 * added tokens (ids checked for contiguity before the id table is allocated), the merges (either
 * "left right" strings or [left, right] pairs), the normaliser / pre-tokenizer arrangement
 * (SentencePiece-style "▁" prepending, or byte-level with GPT-2's or LLaMA-3's split pattern), and
 * the post-processor's template, whose first special token is the [BOS] put in front by default.
 * The algorithm itself (added-token splitting, byte fallback, the merge loop, decoding) is
 * {@link Tokenizer}'s; this class only turns the file's fields into its parts, so that another
 * format ({@link GgufVocab}) is another reader rather than a branch of this one.
 *
 * <p>Reference: {@code tokenizers} (Hugging Face), {@code models/bpe/serialization.rs} and
 * {@code processors/template.rs}.
 */
final class TokenizerJson {
    private TokenizerJson() {
    }

    /**
     * Reads {@code tokenizer.json}; errors ({@link FormatException}) name the file and the field
     * that is wrong. Ids are checked against {@link Tokenizer#MAX_VOCAB} before the id table is allocated.
     */
    static Tokenizer read(Path file) throws IOException {
        JsonFields root = JsonFile.read(file);
        JsonFields model = root.object("model");
        String type = model.string("type", "");
        if (!"BPE".equals(type)) {
            throw new FormatException(file, "field model.type must be \"BPE\" (the LLaMA tokenizer), got \"" + type + "\"");
        }
        JsonFields vocabJson = model.object("vocab");
        Map<String, Integer> vocab = new HashMap<>();
        int max = -1;
        for (Map.Entry<String, JsonElement> e : vocabJson.entries()) {
            int id = (int) vocabJson.integerValue(e.getValue(), "model.vocab." + e.getKey(), 0, Tokenizer.MAX_VOCAB - 1);
            vocab.put(e.getKey(), id);
            max = Math.max(max, id);
        }
        List<JsonFields> addedJson = root.has("added_tokens") ? root.objects("added_tokens") : List.of();
        int[] addedIds = new int[addedJson.size()];
        for (int i = 0; i < addedIds.length; i++) {
            addedIds[i] = addedJson.get(i).integer("id", null, 0, Tokenizer.MAX_VOCAB - 1);
            max = Math.max(max, addedIds[i]);
        }
        if ((long) max + 1 > vocab.size() + addedIds.length) { // found before the id table is allocated
            java.util.Set<Integer> ids = new java.util.HashSet<>(vocab.values());
            for (int id : addedIds) {
                ids.add(id);
            }
            int missing = 0;
            while (ids.contains(missing)) {
                missing++;
            }
            throw new FormatException(file, "no token has id " + missing + " (ids must be contiguous 0.." + max + ")");
        }
        String[] pieces = new String[max + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (pieces[e.getValue()] != null) {
                throw new FormatException(file, "model.vocab gives id " + e.getValue() + " to both '"
                        + pieces[e.getValue()] + "' and '" + e.getKey() + "'");
            }
            pieces[e.getValue()] = e.getKey();
        }
        Map<String, Integer> added = new HashMap<>();
        boolean[] special = new boolean[max + 1];
        for (int i = 0; i < addedIds.length; i++) {
            JsonFields a = addedJson.get(i);
            int id = addedIds[i];
            String content = a.string("content", null);
            added.put(content, id);
            pieces[id] = content;
            special[id] = a.bool("special", false);
            vocab.putIfAbsent(content, id);
        }
        for (int i = 0; i < pieces.length; i++) {
            if (pieces[i] == null) {
                throw new FormatException(file, "no token has id " + i + " (ids must be contiguous 0.." + max + ")");
            }
        }
        Map<Long, int[]> merges = new HashMap<>();
        JsonArray mergeJson = model.array("merges");
        for (int rank = 0; rank < mergeJson.size(); rank++) {
            JsonElement m = mergeJson.get(rank);
            String where = "model.merges[" + rank + "]";
            String left;
            String right;
            if (m.isJsonArray()) {
                JsonArray pair = m.getAsJsonArray();
                if (pair.size() != 2) {
                    throw new FormatException(file, where + " has " + pair.size() + " pieces, expected [left, right]");
                }
                left = model.stringValue(pair.get(0), where + "[0]");
                right = model.stringValue(pair.get(1), where + "[1]");
            } else {
                String t = model.stringValue(m, where);
                int sp = t.indexOf(' ', 1);
                if (sp < 0) {
                    throw new FormatException(file, where + " = \"" + t + "\" is not \"left right\"");
                }
                left = t.substring(0, sp);
                right = t.substring(sp + 1);
            }
            Integer l = vocab.get(left);
            Integer r = vocab.get(right);
            Integer merged = vocab.get(left + right);
            if (l == null || r == null || merged == null) {
                throw new FormatException(file, where + " (" + left + ", " + right
                        + ") uses a piece that is not in model.vocab");
            }
            merges.putIfAbsent(Tokenizer.key(l, r), new int[] {rank, merged});
        }
        String unk = model.string("unk_token", "<unk>");
        int unkId = vocab.getOrDefault(unk, -1);
        String bosPiece = templateFirstToken(root.raw().get("post_processor"));
        int bos = vocab.getOrDefault(bosPiece != null ? bosPiece : "<s>", -1);
        if (bos < 0 && bosPiece == null) {
            bos = bosFromConfigs(file, vocab, pieces.length);
        }
        int eos = vocab.getOrDefault("</s>", vocab.getOrDefault("<|end_of_text|>", -1));
        ByteLevel byteLevel = byteLevel(root, file);
        boolean prepend = byteLevel == null && detectPrepend(root.raw());
        boolean addBos = bos >= 0 && bosPiece != null;
        if (byteLevel != null && root.has("normalizer")) {
            throw new FormatException(file, "field 'normalizer' " + root.required("normalizer")
                    + " is not supported with a byte-level pre-tokenizer (only none)");
        }
        return new Tokenizer(file, pieces, vocab, merges, added, special, unkId, bos, eos, prepend, addBos, byteLevel,
                model.bool("ignore_merges", false));
    }

    /**
     * [BOS] of a {@code tokenizer.json} whose post-processor has no template and whose vocabulary
     * has no {@code <s>} (a LLaMA-3 vocabulary saved without its post-processor): the
     * {@code bos_token} of {@code tokenizer_config.json} beside it (a string, or an added-token
     * object with {@code content}), else the {@code bos_token_id} of {@code config.json} beside
     * it, else -1 (none, as before: encoding with [BOS] is then refused). Guards against a
     * tokenizer that cannot put the [BOS] its model was trained with in front of a window, although
     * the checkpoint names it; a name or id the vocabulary does not have is refused, naming the file
     * and field. Files with a template or an {@code <s>} never reach here, so their [BOS] is unchanged.
     */
    private static int bosFromConfigs(Path file, Map<String, Integer> vocab, int n) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null) {
            return -1;
        }
        Path tokenizerConfig = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(tokenizerConfig)) {
            JsonFields tc = JsonFile.read(tokenizerConfig);
            if (tc.has("bos_token")) {
                JsonElement e = tc.required("bos_token");
                String piece = e.isJsonObject() ? tc.object("bos_token").string("content", null)
                        : tc.stringValue(e, "bos_token");
                Integer id = vocab.get(piece);
                if (id == null) {
                    throw new FormatException(tokenizerConfig, "field 'bos_token' = \"" + piece + "\" is not a token of "
                            + file + "; use the tokenizer_config.json that came with this tokenizer.json");
                }
                return id;
            }
        }
        Path config = dir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            JsonFields c = JsonFile.read(config);
            if (c.has("bos_token_id")) {
                return c.integer("bos_token_id", null, 0, n - 1);
            }
        }
        return -1;
    }

    /**
     * The byte-level pre-tokenizer of the file, or null when it has none: {@code ByteLevel}
     * (GPT-2's split pattern when {@code use_regex}), or a {@code Sequence} of a {@code Split}
     * (Regex pattern, behaviour Isolated, not inverted) and a {@code ByteLevel} without regex, as
     * LLaMA-3 has. Any other arrangement around a ByteLevel is refused by name.
     */
    private static ByteLevel byteLevel(JsonFields root, Path file) throws FormatException {
        JsonFields pre = root.optionalObject("pre_tokenizer");
        if (pre == null || !pre.raw().toString().contains("\"ByteLevel\"")) {
            return null;
        }
        String type = pre.string("type", "");
        if (type.equals("ByteLevel")) {
            return new ByteLevel(pre.bool("use_regex", true) ? ByteLevel.GPT2 : "$^", pre.bool("add_prefix_space", false));
        }
        List<JsonFields> seq = type.equals("Sequence") ? pre.objects("pretokenizers") : List.of();
        if (seq.size() == 2 && seq.get(0).string("type", "").equals("Split")
                && seq.get(1).string("type", "").equals("ByteLevel") && !seq.get(1).bool("use_regex", true)) {
            JsonFields split = seq.get(0);
            String behavior = split.string("behavior", "");
            if (!behavior.equals("Isolated") || split.bool("invert", false)) {
                throw new FormatException(file, "field '" + split.path("behavior") + "' = \"" + behavior
                        + "\" (invert " + split.bool("invert", false) + ") is not supported; only Isolated, not inverted");
            }
            String regex = split.object("pattern").string("Regex", null);
            try {
                return new ByteLevel(regex, seq.get(1).bool("add_prefix_space", false));
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new FormatException(file, "field '" + split.path("pattern") + ".Regex' is not a regular expression"
                        + " Java reads: " + e.getDescription(), e);
            }
        }
        throw new FormatException(file, "field 'pre_tokenizer' " + shorten(pre.raw().toString())
                + " is not a supported byte-level arrangement (ByteLevel, or Sequence [Split, ByteLevel])");
    }

    private static String shorten(String t) {
        return t.length() <= 120 ? t : t.substring(0, 117) + "...";
    }

    /** The first token of a TemplateProcessing post-processor's single-sequence template, searched recursively. */
    private static String templateFirstToken(JsonElement pp) {
        if (pp == null || !pp.isJsonObject()) {
            return null;
        }
        JsonObject o = pp.getAsJsonObject();
        if (o.has("type") && o.get("type").isJsonPrimitive() && o.get("type").getAsString().equals("TemplateProcessing")
                && o.has("single") && o.get("single").isJsonArray() && !o.getAsJsonArray("single").isEmpty()) {
            JsonElement first = o.getAsJsonArray("single").get(0);
            if (first.isJsonObject() && first.getAsJsonObject().has("SpecialToken")) {
                JsonElement id = first.getAsJsonObject().getAsJsonObject("SpecialToken").get("id");
                return id != null && id.isJsonPrimitive() ? id.getAsString() : null;
            }
            return null;
        }
        if (o.has("processors") && o.get("processors").isJsonArray()) {
            for (JsonElement e : o.getAsJsonArray("processors")) {
                String t = templateFirstToken(e);
                if (t != null) {
                    return t;
                }
            }
        }
        return null;
    }

    /** Whether a "▁" is prepended: Prepend normaliser, or Metaspace with a prepend scheme other than "never". */
    private static boolean detectPrepend(JsonObject root) {
        String all = String.valueOf(root.get("normalizer")) + root.get("pre_tokenizer");
        if (all.contains("\"Prepend\"")) {
            return true;
        }
        if (all.contains("\"Metaspace\"")) {
            return !all.contains("\"prepend_scheme\":\"never\"") && !all.contains("\"add_prefix_space\":false");
        }
        return false;
    }
}

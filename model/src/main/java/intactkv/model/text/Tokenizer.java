package intactkv.model.text;

import intactkv.model.io.FormatException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The BPE tokenizer of LLaMA / LLaMA-2 / Vicuna / TinyLlama (SentencePiece-style, with byte
 * fallback) and of LLaMA-3 (byte-level): the algorithm only. Its readers build it from a file's
 * parts: {@link TokenizerJson} from Hugging Face's {@code tokenizer.json} ({@link #load}),
 * {@link GgufVocab} from a GGUF file's {@code tokenizer.ggml.*} keys.
 *
 * <p>Encoding, as the {@code tokenizers} library does for these files:
 * <ol>
 *   <li>Added tokens ({@code <s>}, {@code </s>}, ...) found literally in the text are split out
 *       and encoded as themselves.</li>
 *   <li>Each remaining piece is normalised: spaces become U+2581 ("▁") and one "▁" is
 *       prepended (the {@code Prepend}+{@code Replace} normaliser, or the {@code Metaspace}
 *       pre-tokenizer with {@code prepend_scheme} "first"/"always").</li>
 *   <li>BPE: start from one symbol per character; a character missing from the vocabulary
 *       becomes its UTF-8 bytes as {@code <0xNN>} tokens (byte fallback), or {@code <unk>}.
 *       Then repeatedly merge the adjacent pair with the lowest merge rank (the leftmost among
 *       equal ranks) until no pair has a merge.</li>
 *   <li>{@code <s>} is put in front when the post-processor (or the caller) asks for it.</li>
 * </ol>
 * Decoding maps ids to pieces, turns runs of byte tokens back into UTF-8, "▁" into spaces,
 * and drops the one leading space the normaliser added.
 */
public final class Tokenizer {
    /** U+2581, SentencePiece's visible space. */
    public static final String SPACE = "\u2581";

    private final Path source;
    private final String[] pieces;
    private final Map<String, Integer> vocab;
    private final Map<Long, int[]> merges; // (left << 32 | right) -> {rank, merged id}
    private final List<String> addedContents; // longest first
    private final Map<String, Integer> added;
    private final boolean[] special;
    private final int[] byteIds; // byte -> id of <0xNN>, -1 if absent
    private final int unkId;
    private final int bosId;
    private final int eosId;
    private final boolean prependSpace;
    private final boolean addBosByDefault;
    /** Byte-level pre-tokenization and decoding, or null for the SentencePiece-style files. */
    private final ByteLevel byteLevel;
    /** {@code model.ignore_merges}: a pre-token that is itself in the vocabulary is taken whole (LLaMA-3). */
    private final boolean ignoreMerges;

    /**
     * A tokenizer from a reader's parts: {@code pieces} by id, {@code vocab} piece -> id (added
     * tokens included), {@code merges} keyed by {@link #key} -> {rank, merged id}, {@code added}
     * the tokens split out of the text literally, {@code special} marking control tokens.
     * Not modified afterwards; the caller hands them over.
     */
    Tokenizer(Path source, String[] pieces, Map<String, Integer> vocab, Map<Long, int[]> merges,
                      Map<String, Integer> added, boolean[] special, int unkId, int bosId, int eosId,
                      boolean prependSpace, boolean addBosByDefault, ByteLevel byteLevel, boolean ignoreMerges) {
        this.source = source;
        this.pieces = pieces;
        this.vocab = vocab;
        this.merges = merges;
        this.added = added;
        this.special = special;
        this.addedContents = new ArrayList<>(added.keySet());
        this.addedContents.sort(Comparator.comparingInt(String::length).reversed());
        this.unkId = unkId;
        this.bosId = bosId;
        this.eosId = eosId;
        this.prependSpace = prependSpace;
        this.addBosByDefault = addBosByDefault;
        this.byteLevel = byteLevel;
        this.ignoreMerges = ignoreMerges;
        this.byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteIds[b] = id == null ? -1 : id;
        }
    }

    /**
     * A tokenizer from the parts another format gives ({@link GgufVocab}, GGUF's vocabulary):
     * {@code pieces} by id (distinct), {@code mergeList} as {left id, right id, rank, merged id}
     * (lowest rank first, the leftmost among equal ranks; the first entry of a pair wins),
     * {@code addedIds} the tokens split out of the text literally, {@code special} marking control
     * tokens. The encoding and decoding are those of {@link #load}'s tokenizers.
     */
    static Tokenizer of(Path source, String[] pieces, List<int[]> mergeList, java.util.Set<Integer> addedIds,
                        boolean[] special, int unkId, int bosId, int eosId, boolean prependSpace, boolean addBos,
                        ByteLevel byteLevel, boolean ignoreMerges) {
        Map<String, Integer> vocab = new HashMap<>();
        for (int i = 0; i < pieces.length; i++) {
            vocab.putIfAbsent(pieces[i], i);
        }
        Map<Long, int[]> merges = new HashMap<>();
        for (int[] m : mergeList) {
            merges.putIfAbsent(key(m[0], m[1]), new int[] {m[2], m[3]});
        }
        Map<String, Integer> added = new HashMap<>();
        for (int id : addedIds) {
            added.put(pieces[id], id);
        }
        return new Tokenizer(source, pieces, vocab, merges, added, special, unkId, bosId, eosId, prependSpace, addBos,
                byteLevel, ignoreMerges);
    }

    /** Largest vocabulary accepted (2^24 ids; LLaMA-3 has 128,256). */
    public static final int MAX_VOCAB = 1 << 24;

    /**
     * Reads {@code tokenizer.json}; errors ({@link FormatException}) name the file and the field
     * that is wrong. The reader is {@link TokenizerJson}; GGUF's vocabulary is read by {@link GgufVocab}.
     */
    public static Tokenizer load(Path file) throws IOException {
        return TokenizerJson.read(file);
    }

    static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xffffffffL);
    }

    public int vocabSize() {
        return pieces.length;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int unkId() {
        return unkId;
    }

    /** The piece (token string) of {@code id}. */
    public String piece(int id) {
        checkId(id);
        return pieces[id];
    }

    /** The id of piece {@code p}, or -1. */
    public int id(String p) {
        return vocab.getOrDefault(p, -1);
    }

    /** Whether {@code id} is a special added token ({@code <s>}, {@code </s>}, ...). */
    public boolean isSpecial(int id) {
        checkId(id);
        return special[id];
    }

    /** Encodes with {@code <s>} first when the tokenizer's post-processor adds it (as HF's default). */
    public int[] encode(String text) {
        return encode(text, addBosByDefault);
    }

    /** Encodes {@code text}; see the class comment. */
    public int[] encode(String text, boolean addBos) {
        List<Integer> out = new ArrayList<>();
        if (addBos) {
            if (bosId < 0) {
                throw new IllegalStateException(source + ": this tokenizer has no <s> token");
            }
            out.add(bosId);
        }
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            String hit = null;
            for (String a : addedContents) {
                if (text.startsWith(a, i)) {
                    hit = a;
                    break;
                }
            }
            if (hit == null) {
                i++;
                continue;
            }
            if (i > start) {
                encodeChunk(text.substring(start, i), out);
            }
            out.add(added.get(hit));
            i += hit.length();
            start = i;
        }
        if (start < text.length()) {
            encodeChunk(text.substring(start), out);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Text between added tokens: byte-level pieces, or the SentencePiece-style normalisation. */
    private void encodeChunk(String raw, List<Integer> out) {
        if (byteLevel == null) {
            bpe(raw, out);
            return;
        }
        for (String piece : byteLevel.pieces(raw)) {
            Integer whole = ignoreMerges ? vocab.get(piece) : null;
            if (whole != null) {
                out.add(whole);
                continue;
            }
            int[] ids = new int[piece.length()];
            for (int k = 0; k < ids.length; k++) {
                Integer id = vocab.get(piece.substring(k, k + 1));
                if (id == null) {
                    if (unkId < 0) {
                        throw new IllegalStateException(source + ": byte character '" + piece.charAt(k)
                                + "' is not in model.vocab and there is no unk_token");
                    }
                    id = unkId;
                }
                ids[k] = id;
            }
            merge(ids, ids.length, out);
        }
    }

    /** Normalises one piece of text and appends its BPE tokens to {@code out}. */
    private void bpe(String raw, List<Integer> out) {
        String text = (prependSpace ? SPACE : "") + raw.replace(" ", SPACE);
        // initial symbols: characters, or their UTF-8 bytes for characters outside the vocabulary
        int[] ids = new int[text.length() * 4];
        int n = 0;
        for (int off = 0; off < text.length(); ) {
            int cp = text.codePointAt(off);
            String ch = new String(Character.toChars(cp));
            off += Character.charCount(cp);
            Integer id = vocab.get(ch);
            if (id != null && !added.containsKey(ch)) {
                ids[n++] = id;
                continue;
            }
            byte[] bytes = ch.getBytes(StandardCharsets.UTF_8);
            boolean allBytes = true;
            for (byte b : bytes) {
                allBytes &= byteIds[b & 0xff] >= 0;
            }
            if (allBytes) {
                for (byte b : bytes) {
                    ids[n++] = byteIds[b & 0xff];
                }
            } else {
                ids[n++] = unkId;
            }
        }
        merge(ids, n, out);
    }

    /**
     * BPE merging of symbols {@code ids[0..n)}: repeatedly the adjacent pair with the lowest merge
     * rank (the leftmost among equal ranks), kept in a doubly linked list with a heap of
     * (rank, position) candidates; appends the result to {@code out}.
     */
    private void merge(int[] ids, int n, List<Integer> out) {
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int k = 0; k < n; k++) {
            next[k] = k + 1 < n ? k + 1 : -1;
            prev[k] = k - 1;
        }
        PriorityQueue<long[]> heap = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0])
                : Long.compare(a[1], b[1]));
        for (int k = 0; k + 1 < n; k++) {
            push(heap, ids, k, k + 1);
        }
        while (!heap.isEmpty()) {
            long[] top = heap.poll();
            int left = (int) top[1];
            int right = (int) top[2];
            // stale if either symbol changed since the candidate was pushed
            if (ids[left] < 0 || next[left] != right || ids[right] < 0 || ids[left] != (int) top[3]
                    || ids[right] != (int) top[4]) {
                continue;
            }
            ids[left] = (int) top[5];
            ids[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                push(heap, ids, prev[left], left);
            }
            if (next[left] >= 0) {
                push(heap, ids, left, next[left]);
            }
        }
        for (int k = n == 0 ? -1 : 0; k >= 0; k = next[k]) {
            out.add(ids[k]);
        }
    }

    private void push(PriorityQueue<long[]> heap, int[] ids, int left, int right) {
        int[] m = merges.get(key(ids[left], ids[right]));
        if (m != null) {
            heap.add(new long[] {m[0], left, right, ids[left], ids[right], m[1]});
        }
    }

    /** Decodes ids to text, special tokens included; see {@link #decode(int[], boolean)}. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Decodes {@code ids}: byte tokens are gathered into UTF-8 (invalid sequences become
     * U+FFFD), "▁" becomes a space, and the leading space of the first piece is dropped.
     */
    public String decode(int[] ids, boolean skipSpecial) {
        if (byteLevel != null) {
            return decodeByteLevel(ids, skipSpecial);
        }
        StringBuilder sb = new StringBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            checkId(id);
            if (skipSpecial && special[id]) {
                continue;
            }
            int b = byteValue(id);
            if (b >= 0) {
                bytes.write(b);
                continue;
            }
            flush(bytes, sb);
            sb.append(special[id] ? pieces[id] : pieces[id].replace(SPACE, " "));
        }
        flush(bytes, sb);
        if (prependSpace && sb.length() > 0 && sb.charAt(0) == ' ') {
            sb.deleteCharAt(0);
        }
        return sb.toString();
    }

    /** Byte-level decoding: pieces concatenated and read back as UTF-8; special tokens as written. */
    private String decodeByteLevel(int[] ids, boolean skipSpecial) {
        StringBuilder sb = new StringBuilder();
        StringBuilder run = new StringBuilder();
        for (int id : ids) {
            checkId(id);
            if (special[id]) {
                sb.append(ByteLevel.unmap(run.toString()));
                run.setLength(0);
                if (!skipSpecial) {
                    sb.append(pieces[id]);
                }
            } else {
                run.append(pieces[id]);
            }
        }
        return sb.append(ByteLevel.unmap(run.toString())).toString();
    }

    private int byteValue(int id) {
        String p = pieces[id];
        if (p.length() == 6 && p.startsWith("<0x") && p.endsWith(">")) {
            try {
                return Integer.parseInt(p.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return -1;
    }

    private static void flush(ByteArrayOutputStream bytes, StringBuilder sb) {
        if (bytes.size() > 0) {
            sb.append(new String(bytes.toByteArray(), StandardCharsets.UTF_8));
            bytes.reset();
        }
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + pieces.length
                    + ") of " + source);
        }
    }
}

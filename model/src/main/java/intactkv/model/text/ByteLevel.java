package intactkv.model.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE's pre-tokenization and decoding (GPT-2, LLaMA-3 and many current models; the
 * {@code tokenizers} library's {@code ByteLevel} pre-tokenizer and decoder, and its {@code Split}
 * pre-tokenizer with behaviour {@code Isolated}):
 * <ol>
 *   <li>the text is split into pieces by a regular expression: every match is a piece, and so
 *       is the text between matches ({@link #LLAMA3} for LLaMA-3's {@code Split}, {@link #GPT2}
 *       for {@code ByteLevel} with {@code use_regex});</li>
 *   <li>each piece's UTF-8 bytes are written as characters through GPT-2's byte-to-unicode
 *       table ({@code bytes_to_unicode}: the 188 printable bytes stand for themselves, the other
 *       68 are shifted to U+0100..U+0143, so a space is "Ġ" and a newline "Ċ");</li>
 *   <li>BPE then merges those characters (in {@link Tokenizer}).</li>
 * </ol>
 * Decoding maps the characters back to bytes and reads them as UTF-8.
 */
final class ByteLevel {
    /** LLaMA-3's split pattern (its tokenizer.json), in Java syntax: contractions, words, 1-3 digits, punctuation, space runs. */
    static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** GPT-2's pattern, what {@code ByteLevel} uses with {@code use_regex: true}. */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final int[] CHAR_TO_BYTE = new int[324];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF;
            char c = printable ? (char) b : (char) (256 + shifted++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private final Pattern split;
    private final boolean addPrefixSpace;

    /**
     * @param regex          the split pattern (in the syntax the file gives, which for these
     *                       patterns Java reads the same, with Unicode character classes)
     * @param addPrefixSpace put a space before the text when it does not start with one
     */
    ByteLevel(String regex, boolean addPrefixSpace) {
        this.split = Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        this.addPrefixSpace = addPrefixSpace;
    }

    String pattern() {
        return split.pattern();
    }

    /** The pieces of {@code text}, each already mapped to byte characters. */
    List<String> pieces(String text) {
        String t = addPrefixSpace && !text.startsWith(" ") ? " " + text : text;
        List<String> out = new ArrayList<>();
        Matcher m = split.matcher(t);
        int at = 0;
        while (m.find()) {
            if (m.start() > at) {
                out.add(map(t.substring(at, m.start())));
            }
            if (m.end() > m.start()) {
                out.add(map(m.group()));
            }
            at = m.end();
        }
        if (at < t.length()) {
            out.add(map(t.substring(at)));
        }
        return out;
    }

    /** A string's UTF-8 bytes as byte characters. */
    static String map(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = BYTE_TO_CHAR[bytes[i] & 0xff];
        }
        return new String(out);
    }

    /** Byte characters back to text (an invalid UTF-8 sequence becomes U+FFFD; other characters pass through). */
    static String unmap(String s) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
            if (b >= 0) {
                bytes.write(b);
            } else {
                sb.append(new String(bytes.toByteArray(), StandardCharsets.UTF_8)).append(c);
                bytes.reset();
            }
        }
        return sb.append(new String(bytes.toByteArray(), StandardCharsets.UTF_8)).toString();
    }
}

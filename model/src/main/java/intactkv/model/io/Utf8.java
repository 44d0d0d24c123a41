package intactkv.model.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Text files are UTF-8 whatever the platform's locale says, decoded strictly: a malformed byte
 * is a {@link FormatException} naming the file, never a silent U+FFFD. A byte-order mark
 * (EF BB BF, U+FEFF) at the very start of a file is not text and is dropped, as Python's
 * {@code utf-8-sig} codec drops it (Windows editors write one); a U+FEFF anywhere else is kept.
 */
public final class Utf8 {
    /** The byte-order mark as a character. */
    public static final char BOM = '\uFEFF';

    private Utf8() {
    }

    /** Reads a whole file as strict UTF-8, without a leading byte-order mark ({@link #stripBom}). */
    public static String read(Path file) throws IOException {
        return stripBom(decode(Files.readAllBytes(file), file));
    }

    /**
     * Reads a user's input file ({@code what}, e.g. "data file", names it in errors) as
     * {@link #read} does, after checking the cases that would otherwise give a bare path as the
     * message. Any readable file is accepted, not only regular files: a named pipe or
     * {@code <(cat f)} (/dev/fd/63) is read to its end. Refused, each by name with what to do:
     * a path that does not exist, a directory, a file the user may not read.
     *
     * @throws NoSuchFileException  "FILE: no such WHAT"
     * @throws FileSystemException  "FILE: is a directory, not a WHAT ..." or "... permission denied"
     */
    public static String readInput(Path file, String what) throws IOException {
        if (Files.isDirectory(file)) {
            throw new FileSystemException(file.toString(), null, "is a directory, not a " + what
                    + " (give the file inside it)");
        }
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such " + what);
        }
        try {
            return read(file);
        } catch (AccessDeniedException e) {
            throw new FileSystemException(file.toString(), null, "permission denied: the " + what
                    + " cannot be read (check its permissions)");
        }
    }

    /** {@code text} without one leading U+FEFF (Python's {@code utf-8-sig} decoding); other text unchanged. */
    public static String stripBom(String text) {
        return !text.isEmpty() && text.charAt(0) == BOM ? text.substring(1) : text;
    }

    /** Decodes {@code bytes} as strict UTF-8; {@code source} names them in the error, with the byte offset. */
    public static String decode(byte[] bytes, Object source) throws FormatException {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length); // UTF-8 never gives more chars than bytes
        CoderResult r = d.decode(in, out, true);
        if (!r.isError()) {
            r = d.flush(out);
        }
        if (r.isError()) {
            throw new FormatException(source, "not UTF-8 text: malformed byte sequence at byte " + in.position()
                    + " (fix the file's encoding, e.g. iconv -t UTF-8)");
        }
        return out.flip().toString();
    }
}

package intactkv.model.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Text files are UTF-8 whatever the platform's locale says, decoded strictly: a malformed byte
 * is a {@link FormatException} naming the file, never a silent U+FFFD.
 */
public final class Utf8 {
    private Utf8() {
    }

    /** Reads a whole file as strict UTF-8. */
    public static String read(Path file) throws IOException {
        return decode(Files.readAllBytes(file), file);
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

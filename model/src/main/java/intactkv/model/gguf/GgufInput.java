package intactkv.model.gguf;

import intactkv.model.io.FormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Little-endian reading of a GGUF file's header from its channel, buffered, with the file's
 * position tracked so that every error says where it is. Every read checks the bytes it needs
 * against the file's size first, so a length or count taken from the file can never make the
 * reader allocate more than the file holds (a string length past the end is refused before its
 * bytes are allocated).
 */
final class GgufInput {
    private static final int BUFFER = 1 << 16;

    private final Path file;
    private final FileChannel ch;
    private final long size;
    private final ByteBuffer buf = ByteBuffer.allocate(BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    private long bufStart; // file position of buf[0]
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    GgufInput(Path file, FileChannel ch) throws IOException {
        this.file = file;
        this.ch = ch;
        this.size = ch.size();
        buf.limit(0);
    }

    Path file() {
        return file;
    }

    long size() {
        return size;
    }

    /** The file position of the next byte read. */
    long position() {
        return bufStart + buf.position();
    }

    /** Bytes left after the current position. */
    long remaining() {
        return size - position();
    }

    /** Makes {@code n} bytes readable from the buffer, refusing when the file ends first ({@code what} names them). */
    private void need(int n, String what) throws IOException {
        if (remaining() < n) {
            throw new FormatException(file, what + " at byte " + position() + " needs " + n + " bytes, but the file ends"
                    + " after " + remaining() + " (truncated file?)");
        }
        if (buf.remaining() >= n) {
            return;
        }
        long pos = position();
        buf.clear();
        bufStart = pos;
        long want = Math.min(BUFFER, size - pos);
        buf.limit((int) want);
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) {
                throw new FormatException(file, "the file ended while reading " + what + " at byte " + pos);
            }
        }
        buf.flip();
    }

    int u8(String what) throws IOException {
        need(1, what);
        return buf.get() & 0xFF;
    }

    int i32(String what) throws IOException {
        need(4, what);
        return buf.getInt();
    }

    long i64(String what) throws IOException {
        need(8, what);
        return buf.getLong();
    }

    short i16(String what) throws IOException {
        need(2, what);
        return buf.getShort();
    }

    float f32(String what) throws IOException {
        need(4, what);
        return buf.getFloat();
    }

    double f64(String what) throws IOException {
        need(8, what);
        return buf.getDouble();
    }

    /**
     * A GGUF string: a uint64 byte length, then that many bytes of UTF-8 (decoded strictly). The
     * length is checked against the rest of the file before anything is allocated.
     */
    String string(String what) throws IOException {
        long at = position();
        long len = i64(what + " length");
        if (len < 0 || len > remaining()) {
            throw new FormatException(file, what + " at byte " + at + " has length " + Long.toUnsignedString(len)
                    + ", past the end of the file (" + remaining() + " bytes left)");
        }
        byte[] bytes = new byte[(int) Math.min(len, Integer.MAX_VALUE - 8)];
        if (bytes.length != len) {
            throw new FormatException(file, what + " at byte " + at + " has length " + len + ", over 2 GB");
        }
        int done = 0;
        while (done < bytes.length) {
            need(Math.min(BUFFER, bytes.length - done), what);
            int k = Math.min(buf.remaining(), bytes.length - done);
            buf.get(bytes, done, k);
            done += k;
        }
        try {
            return utf8.reset().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(file, what + " at byte " + at + " is not UTF-8 text: malformed byte sequence");
        }
    }

    /** Moves to file position {@code pos} (at most the file's size). */
    void seek(long pos) {
        if (pos >= bufStart && pos <= bufStart + buf.limit()) {
            buf.position((int) (pos - bufStart));
        } else {
            bufStart = pos;
            buf.limit(0);
        }
    }
}

package intactkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared text reader: a leading byte-order mark is not text (Python's utf-8-sig), and any
 * readable file is read, a named pipe included; a missing path or a directory is refused by name.
 */
class Utf8Test {
    @TempDir
    Path tmp;

    private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    @Test
    void leadingByteOrderMarkIsDroppedAndAnyOtherKept() throws Exception {
        Path plain = tmp.resolve("plain.txt");
        Path marked = tmp.resolve("marked.txt");
        Files.writeString(plain, "a small dog\n\uFEFFstays\n");
        Files.write(marked, concat(BOM, Files.readAllBytes(plain)));
        assertEquals(Utf8.read(plain), Utf8.read(marked));
        assertEquals("a small dog\n\uFEFFstays\n", Utf8.read(marked), "a U+FEFF after the start is text, kept");
        // only one mark is dropped, as utf-8-sig drops one
        Path twice = tmp.resolve("twice.txt");
        Files.write(twice, concat(concat(BOM, BOM), "x".getBytes(StandardCharsets.UTF_8)));
        assertEquals("\uFEFFx", Utf8.read(twice));
        assertEquals("", Utf8.stripBom("\uFEFF"));
        assertEquals("", Utf8.stripBom(""));
    }

    @Test
    void aNamedPipeIsReadToItsEnd() throws Exception {
        Path fifo = tmp.resolve("pipe");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
        assertEquals(0, mk.waitFor(), "mkfifo " + fifo);
        assertTrue(!Files.isRegularFile(fifo) && Files.exists(fifo), "a FIFO is not a regular file");
        String text = "through a pipe\n".repeat(5000); // more than a pipe buffer holds (64 KiB)
        Thread writer = new Thread(() -> {
            try (OutputStream os = Files.newOutputStream(fifo)) { // blocks until the reader opens the pipe
                os.write(concat(BOM, text.getBytes(StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        writer.setDaemon(true);
        writer.start();
        // a reader that refused the pipe would leave the writer blocked: bounded, not hanging the build
        String read = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> Utf8.readInput(fifo, "data file"));
        assertEquals(text, read);
    }

    @Test
    void missingPathsAndDirectoriesAreRefusedByName() {
        Path missing = tmp.resolve("nope.txt");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Utf8.readInput(missing, "data file"));
        assertEquals(missing + ": no such data file", e.getMessage());
        FileSystemException d = assertThrows(FileSystemException.class, () -> Utf8.readInput(tmp, "tasks file"));
        assertEquals(tmp + ": is a directory, not a tasks file (give the file inside it)", d.getMessage());
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

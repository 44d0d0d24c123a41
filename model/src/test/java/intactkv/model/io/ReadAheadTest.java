package intactkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ReadAhead}: it reads exactly the bytes asked for, in chunks across its 1 MiB buffer; what cannot be read
 * (a missing file, a range past the end) is skipped without an error, since the reader's own read reports it; and
 * after {@link ReadAhead#close} it reads nothing.
 */
class ReadAheadTest {
    @TempDir
    Path tmp;

    private Path file(String name, int size) throws IOException {
        byte[] b = new byte[size];
        new Random(3).nextBytes(b);
        return Files.write(tmp.resolve(name), b);
    }

    @Test
    void readsExactlyTheRangesAskedFor() throws Exception {
        Path f = file("a.bin", 3 * (1 << 20) + 123);
        try (ReadAhead ahead = new ReadAhead()) {
            ahead.request(List.of(new ReadAhead.Range(f, 10, 20), new ReadAhead.Range(f, 100, 100 + (5 << 19) + 7)));
            ahead.request(List.of(new ReadAhead.Range(f, 0, 0)));
            ahead.await();
            assertEquals(10 + (5 << 19) + 7, ahead.bytesRead(), "10 bytes, then 2.5 MiB + 7 across three chunks");
        }
    }

    @Test
    void whatCannotBeReadIsSkippedWithoutAnError() throws Exception {
        Path f = file("short.bin", 1000);
        try (ReadAhead ahead = new ReadAhead()) {
            ahead.request(List.of(new ReadAhead.Range(tmp.resolve("missing.bin"), 0, 4096),
                    new ReadAhead.Range(f, 900, 5000), new ReadAhead.Range(f, 0, 10)));
            ahead.await();
            assertEquals(100 + 10, ahead.bytesRead(), "the 100 bytes before the end, then the next range");
        }
    }

    @Test
    void afterCloseNothingIsRead() throws Exception {
        Path f = file("b.bin", 4096);
        ReadAhead ahead = new ReadAhead();
        ahead.close();
        ahead.request(List.of(new ReadAhead.Range(f, 0, 4096)));
        assertEquals(0, ahead.bytesRead());
    }

    @Test
    void aBackwardRangeIsRefusedNamingTheFile() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ReadAhead.Range(tmp.resolve("x.safetensors"), 20, 10));
        assertTrue(e.getMessage().contains("x.safetensors") && e.getMessage().contains("[20, 10)"), e.getMessage());
    }
}

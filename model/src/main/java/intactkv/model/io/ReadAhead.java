package intactkv.model.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads byte ranges of checkpoint files on a background thread and throws the bytes away, so that the operating
 * system's page cache holds them when a reader asks for them. Two readers ask one decoder layer ahead:
 * {@code LazyCheckpoint.readBlock} (layer-by-layer {@code quantize} and {@code ppl --layer-by-layer}: the disk reads
 * layer l + 1 while the cores compute with layer l) and {@code LlamaWeights.load} (the disk reads layer l + 1 while
 * layer l's bytes are converted and laid out). A hint, nothing more:
 *
 * <ul>
 *   <li>No number changes: the reader reads every byte itself, from the page cache instead of the disk.</li>
 *   <li>No heap: one 1 MiB direct buffer, reused. The page cache is not counted in the process's resident set
 *       (the bytes are read, not mapped), and the kernel drops it first when memory is short.</li>
 *   <li>No error: a range that cannot be read is skipped; the reader's own read reports the problem, naming the file
 *       and the tensor.</li>
 * </ul>
 *
 * The upstream drivers have no counterpart: GPTQ's {@code llama_sequential} and {@code llama_eval} move a layer from
 * CPU to GPU memory with the whole model in CPU memory from the start, and {@code transformers}' loading reads a
 * file without reading ahead of itself. What it changes in wall time on a slow disk is measured in
 * docs/PERFORMANCE.md (session 19).
 */
public final class ReadAhead implements AutoCloseable {
    /** A run of bytes of one file. */
    public record Range(Path file, long from, long to) {
        public Range {
            if (from < 0 || to < from) {
                throw new IllegalArgumentException("read-ahead range [" + from + ", " + to + ") of " + file);
            }
        }
    }

    private static final int CHUNK = 1 << 20;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "intactkv-read-ahead");
        t.setDaemon(true);
        return t;
    });
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
    private final AtomicLong bytesRead = new AtomicLong();

    /**
     * Queues {@code ranges} to be read in order after those queued before; returns at once. After {@link #close}
     * it does nothing.
     */
    public void request(List<Range> ranges) {
        List<Range> copy = List.copyOf(ranges);
        try {
            thread.execute(() -> {
                for (Range r : copy) {
                    if (Thread.currentThread().isInterrupted()) {
                        return;
                    }
                    read(r);
                }
            });
        } catch (RejectedExecutionException closed) {
            // closed: nothing more is read ahead
        }
    }

    /** Bytes read ahead so far (for tests and measurements). */
    public long bytesRead() {
        return bytesRead.get();
    }

    private void read(Range r) {
        try (FileChannel ch = FileChannel.open(r.file(), StandardOpenOption.READ)) {
            long at = r.from();
            while (at < r.to()) {
                buffer.clear();
                buffer.limit((int) Math.min(CHUNK, r.to() - at));
                int n = ch.read(buffer, at);
                if (n < 0) {
                    return; // shorter than the header says: the reader's own read refuses it by name
                }
                at += n;
                bytesRead.addAndGet(n);
            }
        } catch (IOException | RuntimeException e) {
            // a hint only: the reader's own read of these bytes reports what is wrong, naming the tensor
        }
    }

    /** Waits for the queued reads to finish (tests; a driver never needs to). */
    public void await() throws InterruptedException {
        try {
            thread.submit(() -> { }).get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("read-ahead: " + e.getCause(), e.getCause());
        }
    }

    /** Stops reading ahead: queued ranges are dropped, a read in progress stops at its next chunk. */
    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

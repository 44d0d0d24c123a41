package intactkv.cli;

import java.util.Locale;

/**
 * Memory checked before the work, and the one line an {@link OutOfMemoryError} becomes.
 *
 * <p>{@link #require} compares an estimate of a command's largest buffers with the heap this
 * JVM may use ({@link Runtime#maxMemory()}, set by {@code -Xmx}; the launcher passes
 * {@code INTACTKV_JAVA_OPTS} to Java) and refuses, naming the flag that sizes them, the estimate,
 * the heap and the setting to change. Guards against: a run that fails with a stack trace after
 * minutes of work ({@code ppl --seqlen 4096} on a real model). The estimates count only the
 * buffers that must coexist (see {@link MemoryEstimate}), so they are lower bounds: a refused
 * run could not have succeeded, and a run that passes may still need more, which the
 * {@link #outOfMemory} line then says.
 */
final class Memory {
    /** The last estimate that passed on this thread, quoted if the run still runs out of memory. */
    private static final ThreadLocal<Planned> PLANNED = new ThreadLocal<>();

    private record Planned(String what, long bytes) {
    }

    /** The command running on this thread, for the messages ({@link Main} sets it). */
    private static final ThreadLocal<String> COMMAND = ThreadLocal.withInitial(() -> "COMMAND");

    private Memory() {
    }

    /**
     * Refuses unless {@code bytes} fit in the heap: {@code what} says what needs them and which
     * flag sizes them (e.g. "--seqlen 4096: attention scores of 16 heads x 4096 x 4096").
     */
    static void require(String what, long bytes) {
        require(what, bytes, null);
    }

    /**
     * {@link #require(String, long)} with another way out than a larger heap, given in the refusal before
     * "or ask for less" ({@code otherwise}, e.g. "add --no-kl (needs 2.3 GB)"; null: none).
     */
    static void require(String what, long bytes, String otherwise) {
        long max = Runtime.getRuntime().maxMemory();
        String other = otherwise == null ? "" : ", " + otherwise;
        if (bytes == Long.MAX_VALUE) {
            throw new IllegalArgumentException(what + " needs more memory than any machine has" + other
                    + "; ask for less");
        }
        if (bytes > max) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s needs at least %s of memory, more than this Java's heap of %s; give it more with"
                            + " INTACTKV_JAVA_OPTS=-Xmx%s ./intactkv %s ...%s, or ask for less",
                    what, size(bytes), size(max), suggestedXmx(bytes), COMMAND.get(), other));
        }
        PLANNED.set(new Planned(what, bytes));
    }

    /** A command starts on this thread. */
    static void start(String command) {
        COMMAND.set(command);
        PLANNED.remove();
    }

    /** The command on this thread ended. */
    static void clear() {
        PLANNED.remove();
        COMMAND.remove();
    }

    /** The one line printed for an {@link OutOfMemoryError} in {@code command}. */
    static String outOfMemory(String command, OutOfMemoryError e) {
        long max = Runtime.getRuntime().maxMemory();
        Planned planned = PLANNED.get();
        return String.format(Locale.ROOT, "intactkv %s: error: out of memory (%s)%s; this Java's heap is %s: give it"
                        + " more with INTACTKV_JAVA_OPTS=-Xmx%s ./intactkv %s ..., or ask for less (shorter"
                        + " sequences, fewer samples)", command, e.getMessage() == null ? "Java heap space" : e.getMessage(),
                planned == null ? "" : " with " + planned.what() + " estimated at " + size(planned.bytes()) + " or more",
                size(max), suggestedXmx(Math.max(2 * max, planned == null ? 0 : planned.bytes())), command);
    }

    /** An -Xmx value in whole gigabytes, a quarter above {@code bytes} for what the estimate leaves out. */
    static String suggestedXmx(long bytes) {
        return Math.max(1, (long) Math.ceil(bytes * 1.25 / (1L << 30))) + "g";
    }

    /** {@code bytes} in MB or GB (binary units), rounded for reading. */
    static String size(long bytes) {
        double mb = bytes / (double) (1L << 20);
        if (mb < 1) { // a KV cache position in f16 is half a megabyte: not "1 MB"
            return String.format(Locale.ROOT, "%.0f KB", Math.max(1, bytes / 1024.0));
        }
        return mb < 1024 ? String.format(Locale.ROOT, "%.0f MB", mb) : String.format(Locale.ROOT, "%.1f GB", mb / 1024);
    }
}

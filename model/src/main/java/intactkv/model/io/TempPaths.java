package intactkv.model.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The temporary files and folders this JVM has created and not yet moved into place, removed by
 * a shutdown hook. A path is registered when it is created and unregistered once it is renamed
 * into place or deleted, so whatever is still registered when the JVM exits (normally,
 * {@code System.exit}, Ctrl-C, SIGTERM) is a half-written output and is deleted with everything
 * below it. Guards against: a hidden {@code .q.<random>/} checkpoint (gigabytes on a real model)
 * left behind by an interrupted {@code quantize}. A SIGKILL or a power cut runs no hook; nothing
 * can clean up after those.
 */
public final class TempPaths {
    private static final Set<Path> LIVE = new LinkedHashSet<>();
    private static boolean hooked;

    private TempPaths() {
    }

    /** Registers {@code p} (absolute) for deletion at exit; installs the shutdown hook on first use. */
    public static synchronized void register(Path p) {
        if (!hooked) {
            Runtime.getRuntime().addShutdownHook(new Thread(TempPaths::deleteAll, "intactkv-temp-cleanup"));
            hooked = true;
        }
        LIVE.add(p.toAbsolutePath());
    }

    /** Forgets {@code p}: it was moved into place or deleted. */
    public static synchronized void unregister(Path p) {
        LIVE.remove(p.toAbsolutePath());
    }

    /** Whether {@code p} is registered (for tests). */
    public static synchronized boolean isRegistered(Path p) {
        return LIVE.contains(p.toAbsolutePath());
    }

    /**
     * Deletes every registered path. The thread that writes into one may still run while the hook
     * does (the JVM does not stop other threads first), so a tree that gains a file while it is
     * walked is walked again, a few times.
     */
    static void deleteAll() {
        List<Path> paths;
        synchronized (TempPaths.class) {
            paths = new ArrayList<>(LIVE);
            LIVE.clear();
        }
        for (Path p : paths) {
            for (int attempt = 0; attempt < 5 && Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS); attempt++) {
                try {
                    AtomicFiles.deleteTree(p);
                } catch (IOException | RuntimeException e) {
                    // a file appeared or vanished during the walk: walk again
                }
            }
        }
    }
}

package intactkv.cli;

import intactkv.model.io.AtomicFiles;
import intactkv.model.io.TempPaths;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An output path given by a flag ({@code --out}), checked before any work and locked until the
 * command ends. What {@link #claim} guards, each refused as one line naming the flag and the path:
 * <ul>
 *   <li>the kind: a file where a folder is needed, or a folder where a file is needed;</li>
 *   <li>the folder that will hold it must exist. One rule for every command: a missing parent
 *       folder is refused, not created, so a mistyped path fails at once instead of growing a
 *       tree of folders, and a command that fails leaves behind nothing the user did not name
 *       (as shell redirection, {@code cp} and {@code torch.save} behave);</li>
 *   <li>writability: a probe file is created and deleted in that folder, and inside an existing
 *       output folder the command writes into, so "permission denied" comes before hours of
 *       quantization or calibration, not after them with a temporary name;</li>
 *   <li>a second run writing the same output: a lock file {@code .NAME.lock} beside the output,
 *       held ({@link FileChannel#tryLock}) from the check to the end of the command and deleted
 *       then, refuses the second run at once, in another process or in this JVM.</li>
 * </ul>
 * The lock file is registered with {@link TempPaths}, so Ctrl-C removes it too; a run killed
 * outright leaves an unlocked file that the next run simply takes.
 */
final class OutputTarget implements AutoCloseable {
    /** Whether the output is one file or a folder of files. */
    enum Kind { FILE, FOLDER }

    /** Lock files this JVM holds, with the claim holding each. */
    private static final java.util.Map<Path, OutputTarget> HELD = new java.util.HashMap<>();

    /** The claims of the command running on this thread, released by {@link #releaseAll} when it ends. */
    private static final ThreadLocal<java.util.List<OutputTarget>> CLAIMS = ThreadLocal.withInitial(java.util.ArrayList::new);

    private final Path lockFile;
    private final FileChannel channel;
    private final FileLock lock;
    private final Thread owner = Thread.currentThread();

    private OutputTarget(Path lockFile, FileChannel channel, FileLock lock) {
        this.lockFile = lockFile;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * {@link #claim}, the lock held until the command that runs on this thread ends ({@link Main}
     * calls {@link #releaseAll}); claiming the same output again on this thread returns the held
     * claim, so a command and the helpers it calls may each check their output.
     */
    static OutputTarget claimForCommand(String flag, Path out, Kind kind) throws IOException {
        OutputTarget t = claim(flag, out, kind);
        if (!CLAIMS.get().contains(t)) {
            CLAIMS.get().add(t);
        }
        return t;
    }

    /** Releases every claim of the command that ran on this thread. */
    static void releaseAll() {
        java.util.List<OutputTarget> mine = CLAIMS.get();
        for (OutputTarget t : mine) {
            try {
                t.close();
            } catch (IOException e) {
                // the lock file could not be deleted: the lock itself is released by closing the channel
            }
        }
        mine.clear();
    }

    /** Checks {@code out} (given as {@code flag}) and locks it; see the class comment. */
    static OutputTarget claim(String flag, Path out, Kind kind) throws IOException {
        Path abs = out.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        String named = flag + " " + out;
        if (parent == null) {
            throw new IllegalArgumentException(named + " is a file-system root; give a file or folder name below it");
        }
        if (kind == Kind.FILE && Files.isDirectory(abs)) {
            throw new IllegalArgumentException(named + " is a directory; give the name of the file to write");
        }
        if (kind == Kind.FOLDER && Files.exists(abs) && !Files.isDirectory(abs)) {
            throw new IllegalArgumentException(named + " exists and is a file, not a directory; choose another " + flag);
        }
        if (!Files.isDirectory(parent)) {
            throw new IllegalArgumentException(named + ": the folder " + parent + (Files.exists(parent)
                    ? " is not a folder" : " does not exist; create it first (mkdir -p " + parent + ")")
                    + " or choose another " + flag);
        }
        probe(named, flag, parent);
        if (kind == Kind.FOLDER && Files.isDirectory(abs)) {
            probe(named, flag, abs);
        }
        return lock(named, flag, abs);
    }

    /** Creates and deletes a file in {@code folder}: whether this user can write there, asked of the file system itself. */
    private static void probe(String named, String flag, Path folder) {
        Path p = folder.resolve(".intactkv-probe-" + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36));
        TempPaths.register(p); // a signal between creation and deletion leaves no probe behind
        try {
            Files.createFile(p);
            Files.delete(p);
        } catch (IOException e) {
            throw new IllegalArgumentException(named + ": cannot write in the folder " + AtomicFiles.describe(e, p, folder)
                    + "; choose another " + flag + " or make the folder writable", e);
        } finally {
            TempPaths.unregister(p);
        }
    }

    /**
     * Takes the lock file beside {@code abs}. Within this JVM a set of held lock files answers
     * first: on Linux, closing any channel to a file drops every lock the process holds on it, so
     * a second in-process attempt must not even open the file. Across processes: a run that ends
     * deletes its lock file, so one that opened the file just before may lock an unlinked file;
     * the file's identity (inode) is therefore read before opening and again after locking, and a
     * change means "try again on the new file" (the inode cannot be reused while it is open).
     */
    private static OutputTarget lock(String named, String flag, Path abs) throws IOException {
        Path lockFile = abs.resolveSibling("." + abs.getFileName() + ".lock");
        String busy = named + ": another intactkv run is writing it (lock file " + lockFile + "); wait for that run to"
                + " finish or choose another " + flag;
        synchronized (HELD) {
            OutputTarget held = HELD.get(lockFile);
            if (held != null && held.owner == Thread.currentThread() && CLAIMS.get().contains(held)) {
                return held;
            }
            if (held != null) {
                throw new IllegalArgumentException(busy);
            }
            for (int attempt = 0; attempt < 10; attempt++) {
                TempPaths.register(lockFile);
                FileChannel ch = null;
                try {
                    try {
                        Files.createFile(lockFile);
                    } catch (java.nio.file.FileAlreadyExistsException e) {
                        // held by another run, or left by a killed one: the lock says which
                    }
                    Object before = fileKey(lockFile);
                    ch = FileChannel.open(lockFile, StandardOpenOption.WRITE);
                    FileLock lock;
                    try {
                        lock = ch.tryLock();
                    } catch (OverlappingFileLockException e) { // another thread of this JVM, between the checks
                        lock = null;
                    }
                    if (lock == null) {
                        throw new IllegalArgumentException(busy);
                    }
                    Object after = fileKey(lockFile);
                    if (before == null || before.equals(after)) {
                        OutputTarget t = new OutputTarget(lockFile, ch, lock);
                        HELD.put(lockFile, t);
                        return t;
                    }
                    lock.release(); // the file was removed by the run that held it: take the new one
                    ch.close();
                } catch (NoSuchFileException e) {
                    if (ch != null) {
                        ch.close(); // removed between creation and opening by a run that ended: again
                    }
                } catch (IOException e) {
                    TempPaths.unregister(lockFile);
                    if (ch != null) {
                        ch.close();
                    }
                    throw new IllegalArgumentException(named + ": cannot create the lock file "
                            + AtomicFiles.describe(e, null, lockFile) + "; choose another " + flag, e);
                } catch (IllegalArgumentException e) {
                    TempPaths.unregister(lockFile);
                    ch.close();
                    throw e;
                }
            }
        }
        TempPaths.unregister(lockFile);
        throw new IllegalArgumentException(busy);
    }

    /** The file's identity (device and inode on Unix), without opening it; null where the file system has none. */
    private static Object fileKey(Path p) throws IOException {
        return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /** Deletes the lock file and releases the lock (in that order: a waiting run then opens a new file). */
    @Override
    public void close() throws IOException {
        synchronized (HELD) {
            if (HELD.get(lockFile) != this) {
                return; // closed already
            }
            try {
                Files.deleteIfExists(lockFile);
                TempPaths.unregister(lockFile);
            } finally {
                lock.release();
                channel.close();
                HELD.remove(lockFile);
            }
        }
    }
}

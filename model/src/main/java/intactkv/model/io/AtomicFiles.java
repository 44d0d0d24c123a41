package intactkv.model.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers never see half of it: the content goes to a temporary file in
 * the same directory, which is renamed over the target only once it is complete; on failure
 * the temporary file is deleted and the target is untouched.
 *
 * <p>Temporary files and folders are created with the permissions an ordinary
 * {@code Files.createFile} / {@code createDirectory} gives (0666 / 0777 less the umask), not the
 * 0600 / 0700 of {@code Files.createTempFile} / {@code createTempDirectory}, since they become
 * the user's output by a rename; they are registered with {@link TempPaths} from creation to
 * rename, so an interrupted run (Ctrl-C) deletes them. An error names the target the user asked
 * for, never the temporary name.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes what {@code body} writes to the stream as {@code target}. */
    public static void write(Path target, IoConsumer<OutputStream> body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = createTemp(dir, "." + target.getFileName() + ".", ".tmp", false);
            try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                body.accept(out);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (java.nio.file.AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new IOException(describe(e, tmp, target), e);
        } finally {
            if (tmp != null) {
                Files.deleteIfExists(tmp);
                TempPaths.unregister(tmp);
            }
        }
    }

    /** Writes {@code text} (UTF-8) as {@code target}. */
    public static void writeString(Path target, String text) throws IOException {
        write(target, out -> out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /**
     * A new empty folder {@code .NAME.<random>} beside {@code target} (NAME its file name), for
     * writing a whole output folder before {@link #moveIntoPlace}; registered with
     * {@link TempPaths} until then, and created with the umask's permissions.
     */
    public static Path createTempDirectory(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        return createTemp(abs.getParent(), "." + abs.getFileName() + ".", "", true);
    }

    /**
     * Replaces {@code target} (a file, or a folder with everything in it) by the temporary
     * folder {@code tmp} made by {@link #createTempDirectory}, with one rename, and forgets
     * {@code tmp}. The old target is removed first, so a crash between the two leaves the new
     * content under the temporary name (deleted by the shutdown hook) and no target.
     */
    public static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            deleteTree(target);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            TempPaths.unregister(tmp);
        } catch (IOException e) {
            throw new IOException(describe(e, tmp, target), e);
        }
    }

    /** Deletes a temporary path made here (and everything below it) and forgets it. */
    public static void deleteTemp(Path tmp) throws IOException {
        deleteTree(tmp);
        TempPaths.unregister(tmp);
    }

    /** Creates {@code dir/PREFIX<random>SUFFIX} (a file or a folder) with default permissions and registers it. */
    private static Path createTemp(Path dir, String prefix, String suffix, boolean folder) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = dir.resolve(prefix + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + suffix);
            try {
                // registered before creation: a signal between the two finds nothing to delete, never a leftover
                TempPaths.register(p);
                return folder ? Files.createDirectory(p) : Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                TempPaths.unregister(p);
                if (attempt == 100) {
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                TempPaths.unregister(p);
                throw e;
            }
        }
    }

    /** Deletes {@code p} and everything below it; nothing happens if it does not exist. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path f : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    /**
     * {@code shown: what went wrong}, for an error met while writing {@code shown} through the
     * temporary path {@code tmp} (null if none): the operating system's reason (or the kind of
     * error when it gives none, e.g. "permission denied" for an {@link AccessDeniedException}),
     * with every mention of the temporary name replaced by the path the user asked for. A message
     * that already starts with {@code shown} (an error described here for a file inside it) is
     * kept as it is.
     */
    public static String describe(IOException e, Path tmp, Path shown) {
        String what;
        if (e instanceof FileSystemException f) {
            if (f.getReason() != null) {
                what = f.getReason();
            } else if (f instanceof AccessDeniedException) {
                what = "permission denied";
            } else if (f instanceof NoSuchFileException) {
                what = "no such file or folder";
            } else if (f instanceof FileAlreadyExistsException) {
                what = "already exists";
            } else if (f instanceof DirectoryNotEmptyException) {
                what = "folder not empty";
            } else if (f instanceof NotDirectoryException) {
                what = "not a folder";
            } else {
                what = f.getClass().getSimpleName();
            }
        } else {
            what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        if (tmp != null) {
            what = what.replace(tmp.toAbsolutePath().toString(), shown.toAbsolutePath().toString())
                    .replace(tmp.toString(), shown.toString());
        }
        if (what.startsWith(shown.toString()) || what.startsWith(shown.toAbsolutePath().toString())) {
            return what;
        }
        return shown + ": " + what;
    }

    /** A consumer that may throw {@link IOException}. */
    @FunctionalInterface
    public interface IoConsumer<T> {
        void accept(T t) throws IOException;
    }
}

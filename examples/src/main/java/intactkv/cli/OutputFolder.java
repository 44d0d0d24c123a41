package intactkv.cli;

import intactkv.model.io.AtomicFiles;
import intactkv.model.io.TempPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code --out} folder of a command that writes several files (analyze, demo,
 * theory-report): created on open, and removed again on close unless {@link #done} was called,
 * if this command created it. So a command that fails half-way leaves no folder it made behind;
 * a folder that existed before is left as it was found, less nothing. A folder it created is
 * also registered with {@link TempPaths} until {@link #done}, so Ctrl-C removes it too.
 */
final class OutputFolder implements AutoCloseable {
    private final Path dir;
    private final boolean created;
    private boolean done;

    private OutputFolder(Path dir, boolean created) {
        this.dir = dir;
        this.created = created;
    }

    static OutputFolder open(Path dir) throws IOException {
        ModelDir.checkOutput(dir);
        boolean existed = Files.isDirectory(dir);
        if (!existed) {
            TempPaths.register(dir); // before creation: a signal in between finds nothing to delete
            try {
                Files.createDirectory(dir); // the parent exists (checked by checkOutput)
            } catch (IOException e) {
                TempPaths.unregister(dir);
                throw new IOException(AtomicFiles.describe(e, null, dir), e);
            }
        }
        return new OutputFolder(dir, !existed);
    }

    Path resolve(String name) {
        return dir.resolve(name);
    }

    /** Everything is written: keep the folder. */
    void done() {
        done = true;
        TempPaths.unregister(dir);
    }

    @Override
    public void close() throws IOException {
        if (!done && created) {
            AtomicFiles.deleteTree(dir);
            TempPaths.unregister(dir);
        }
    }
}

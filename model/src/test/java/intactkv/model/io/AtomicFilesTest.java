package intactkv.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic writes: permissions as an ordinary file, nothing left behind on failure or SIGTERM, errors naming the target. */
class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<String> hidden(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }

    /** Files.createTempFile gives 0600 and createTempDirectory 0700 whatever the umask; an output must not. */
    @Test
    void outputsGetThePermissionsOfAnOrdinaryFileAndFolder() throws IOException {
        Path plainFile = Files.createFile(dir.resolve("plain.txt"));
        Path plainDir = Files.createDirectory(dir.resolve("plain"));
        Path written = dir.resolve("written.txt");
        AtomicFiles.writeString(written, "x");
        Path target = dir.resolve("model");
        Path tmp = AtomicFiles.createTempDirectory(target);
        AtomicFiles.writeString(tmp.resolve("config.json"), "{}");
        AtomicFiles.moveIntoPlace(tmp, target);
        assertEquals(Files.getPosixFilePermissions(plainFile), Files.getPosixFilePermissions(written));
        assertEquals(Files.getPosixFilePermissions(plainDir), Files.getPosixFilePermissions(target));
        assertEquals(Files.getPosixFilePermissions(plainFile), Files.getPosixFilePermissions(target.resolve("config.json")));
        assertFalse(TempPaths.isRegistered(tmp), "moved into place: no longer a temporary");
        assertEquals(List.of(), hidden(dir));
    }

    @Test
    void aFailedWriteLeavesNothingAndIsForgotten() throws IOException {
        Path target = dir.resolve("f.bin");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            out.write(1);
            throw new IOException("No space left on device");
        }));
        assertEquals(target + ": No space left on device", e.getMessage());
        assertFalse(Files.exists(target));
        assertEquals(List.of(), hidden(dir));
    }

    /** An error met on a temporary path is reported on the path the user asked for. */
    @Test
    void errorsNameTheTargetNeverTheTemporaryName() {
        Path target = dir.resolve("q");
        Path tmp = dir.resolve(".q.k3j2h1");
        assertEquals(target + ": permission denied",
                AtomicFiles.describe(new AccessDeniedException(tmp.toString()), tmp, target));
        assertEquals(target + ": No space left on device",
                AtomicFiles.describe(new FileSystemException(tmp.toString(), null, "No space left on device"), tmp, target));
        assertEquals(target.resolve("model.safetensors") + ": permission denied", AtomicFiles.describe(
                new IOException(tmp.resolve("model.safetensors") + ": permission denied"), tmp, target));
    }

    /** The write into a folder this user cannot write fails naming the target, and leaves nothing. */
    @Test
    void anUnwritableFolderIsReportedWithTheTarget() throws IOException {
        Path locked = unwritableFolder(dir);
        Path target = locked.resolve("prefix.safetensors");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.writeString(target, "x"));
        assertTrue(e.getMessage().startsWith(target + ": "), e.getMessage());
        assertFalse(e.getMessage().contains(".prefix.safetensors."), e.getMessage());
    }

    /**
     * A folder this process cannot create files in: a fresh folder made read-only, or, when the
     * process ignores permissions (root), /sys, which refuses new files to everyone. The test
     * fails (never skips) when neither is unwritable.
     */
    static Path unwritableFolder(Path base) throws IOException {
        Path ro = Files.createDirectory(base.resolve("read-only"));
        Files.setPosixFilePermissions(ro, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_EXECUTE));
        for (Path candidate : new Path[] {ro, Path.of("/sys")}) {
            Path probe = candidate.resolve(".probe");
            try {
                Files.createFile(probe);
                Files.delete(probe);
            } catch (IOException e) {
                return candidate;
            }
        }
        throw new AssertionError("no unwritable folder found (neither a read-only folder nor /sys refuses new files)");
    }

    /**
     * Ctrl-C or SIGTERM while an output is written: the shutdown hook deletes the registered
     * temporary folder (with the file in it) and the temporary file being written. A child JVM
     * runs {@link TempHolderMain} and is destroyed ({@link Process#destroy}: SIGTERM on Unix).
     */
    @Test
    void sigtermRemovesTheTemporaryFolderAndFile() throws Exception {
        Path target = dir.resolve("q");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = codeSource(TempPaths.class) + java.io.File.pathSeparator + codeSource(TempHolderMain.class);
        Process p = new ProcessBuilder(javaBin, "-cp", cp, TempHolderMain.class.getName(), target.toString())
                .redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null && !line.equals("ready"); line = r.readLine()) {
                lines.add(line);
            }
            assertEquals(1, lines.size(), "the child prints its temporary folder, then ready: " + lines);
            Path tmp = Path.of(lines.get(0));
            assertTrue(Files.isRegularFile(tmp.resolve("model.safetensors")), "the child is writing");
            assertEquals(2, hidden(dir).size(), "a temporary folder and a temporary file: " + hidden(dir));
            p.destroy();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child ends on SIGTERM");
            assertFalse(Files.exists(tmp), "the temporary folder is gone");
            assertEquals(List.of(), hidden(dir), "nothing hidden is left");
            assertFalse(Files.exists(target));
            assertFalse(Files.exists(dir.resolve("single.txt")));
        } finally {
            p.destroyForcibly();
        }
    }

    private static String codeSource(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}

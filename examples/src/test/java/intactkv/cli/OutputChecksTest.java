package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static intactkv.cli.BadInputTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, "work lost or left behind": every output is checked before the work (kind, parent
 * folder, writability, another run writing it), refused naming the flag and the user's path,
 * and a finished output has the umask's permissions and leaves no hidden file beside it.
 */
class OutputChecksTest {
    @TempDir
    static Path dir;
    static Path model;
    /** A copy of the model whose weights cannot be read: a command that reaches the model fails differently. */
    static Path broken;
    static Path data;
    static Path calib;

    @BeforeAll
    static void fixtures() throws Exception {
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        broken = Files.createDirectory(dir.resolve("broken"));
        try (Stream<Path> s = Files.list(model)) {
            for (Path f : s.toList()) {
                Files.copy(f, broken.resolve(f.getFileName()));
            }
        }
        Files.writeString(broken.resolve("model.safetensors"), "not a checkpoint");
        data = dir.resolve("data.txt");
        Files.writeString(data, "ab a b\na ab b ab\n".repeat(100));
        calib = dir.resolve("calib.txt");
        Files.writeString(calib, "ab a b ab ba ".repeat(400));
    }

    /** The commands that write, each with its output flag last (the value appended). */
    private static List<List<String>> writers(Path m) {
        String ms = m.toString();
        return List.of(
                List.of("quantize", "--model", ms, "--method", "gptq", "--wbits", "3", "--group", "8", "--calib",
                        calib.toString(), "--calib-samples", "4", "--calib-seqlen", "32", "--out"),
                List.of("calibrate", "--model", ms, "--method", "rtn", "--wbits", "3", "--group", "8", "--data",
                        data.toString(), "--seqlen", "16", "--samples", "2", "--steps", "1", "--accumulation", "1", "--out"),
                List.of("dump", "--model", ms, "--tokens", "1,260", "--out"),
                List.of("analyze", "--model", ms, "--text", "ab a b ab", "--out"),
                List.of("demo", "--model", ms, "--out"),
                List.of("theory-report", "--out"),
                List.of("train", "--steps", "1", "--warmup", "0", "--out"));
    }

    private static String[] with(List<String> base, String last) {
        List<String> a = new ArrayList<>(base);
        a.add(last);
        return a.toArray(String[]::new);
    }

    /**
     * A folder this process cannot create files in: a fresh folder made read-only, or, when the
     * process ignores permissions (root), /sys, which refuses new files to everyone. Fails (never
     * skips) when neither is unwritable.
     */
    private static Path unwritableFolder() throws IOException {
        Path ro = dir.resolve("read-only");
        if (!Files.isDirectory(ro)) {
            Files.createDirectory(ro);
            Files.setPosixFilePermissions(ro, Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_EXECUTE));
        }
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
     * Issue row: {@code --out} in a folder the user cannot write, for calibrate and quantize
     * --method gptq, failed after 100 % naming only a temporary path. Now every writing command
     * refuses at once, naming the flag and the folder; the model (unreadable here) is never
     * reached and no progress is drawn.
     */
    @Test
    void anUnwritableFolderIsRefusedBeforeAnyWork() throws IOException {
        Path folder = unwritableFolder();
        for (List<String> c : writers(broken)) {
            Path out = folder.resolve("out-" + c.get(0));
            String[] r = run(with(c, out.toString()));
            assertRefused(r, "--out " + out, "cannot write in the folder " + folder, "permission denied");
            assertTrue(r[3].isEmpty(), c.get(0) + ": no progress before the refusal: " + r[3]);
            assertFalse(r[2].contains("/.out-"), "no temporary name: " + r[2]);
        }
    }

    /**
     * Issue row: dump/quantize created a missing parent folder, calibrate refused it. One rule
     * now: every command refuses a missing parent (OutputTarget says why), and creates nothing.
     */
    @Test
    void aMissingParentFolderIsRefusedByEveryCommand() {
        Path parent = dir.resolve("no-such-folder");
        for (List<String> c : writers(broken)) {
            Path out = parent.resolve("out");
            String[] r = run(with(c, out.toString()));
            assertRefused(r, "--out " + out + ": the folder " + parent + " does not exist; create it first (mkdir -p "
                    + parent + ")");
            assertTrue(r[3].isEmpty(), c.get(0) + ": " + r[3]);
            assertFalse(Files.exists(parent), c.get(0) + " created nothing");
        }
    }

    /**
     * Issue row: two quantize runs to the same --out both reported success. While one run holds
     * the output, a second is refused at once (the lock is per JVM too: the holder here is this
     * test's claim), and after it ends the output can be written and the lock file is gone.
     */
    @Test
    void aSecondRunWritingTheSameOutputIsRefused() throws IOException {
        Path q = dir.resolve("q-locked");
        List<String> quantize = List.of("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "3",
                "--group", "8", "--out");
        try (OutputTarget first = OutputTarget.claim("--out", q, OutputTarget.Kind.FOLDER)) {
            assertTrue(Files.exists(dir.resolve(".q-locked.lock")));
            String[] r = run(with(quantize, q.toString()));
            assertRefused(r, "--out " + q + ": another intactkv run is writing it");
            assertTrue(r[3].isEmpty(), "refused before quantizing: " + r[3]);
            assertFalse(Files.exists(q));
        }
        assertFalse(Files.exists(dir.resolve(".q-locked.lock")), "the lock file is removed with the lock");
        String[] r = run(with(quantize, q.toString()));
        assertEquals("0", r[0], r[2]);
        assertTrue(Files.isRegularFile(q.resolve("quant_config.json")));
        assertFalse(Files.exists(dir.resolve(".q-locked.lock")), "a finished run leaves no lock file");
    }

    /** The lock of a file output (calibrate, dump) works the same way, and a claim on this thread is not re-entrant. */
    @Test
    void aFileOutputIsLockedToo() throws IOException {
        Path f = dir.resolve("locked.safetensors");
        try (OutputTarget first = OutputTarget.claim("--out", f, OutputTarget.Kind.FILE)) {
            assertRefused(run("dump", "--model", model.toString(), "--tokens", "1,260", "--out", f.toString()),
                    "--out " + f + ": another intactkv run is writing it");
        }
        assertEquals("0", run("dump", "--model", model.toString(), "--tokens", "1,260", "--out", f.toString())[0]);
    }

    /**
     * Issue row: quantize output folders were 0700 whatever the umask (Files.createTempDirectory).
     * The folder and its files get what an ordinary createDirectory / createFile gives there, and
     * nothing hidden (temporary folder, lock file) is left beside it.
     */
    @Test
    void aQuantizedFolderHasTheUmasksModesAndNothingIsLeftBeside() throws IOException {
        Path parent = Files.createDirectory(dir.resolve("modes"));
        Path q = parent.resolve("q");
        String[] r = run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "3", "--group", "8",
                "--out", q.toString());
        assertEquals("0", r[0], r[2]);
        Path plainDir = Files.createDirectory(parent.resolve("plain"));
        Path plainFile = Files.createFile(parent.resolve("plain.txt"));
        assertEquals(Files.getPosixFilePermissions(plainDir), Files.getPosixFilePermissions(q));
        assertEquals(Files.getPosixFilePermissions(plainFile), Files.getPosixFilePermissions(q.resolve("model.safetensors")));
        try (Stream<Path> s = Files.list(parent)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList());
        }
    }

    /**
     * Issue row (memory): generate --max-tokens 2000000000 allocated int[maxTokens]. The flag is
     * now bounded by what the model can hold, read from config.json before the weights (which are
     * unreadable here) are loaded.
     */
    @Test
    void generateMaxTokensIsBoundedByTheModelsPositions() {
        String[] r = run("generate", "--model", broken.toString(), "--prompt", "ab", "--max-tokens", "2000000000");
        assertRefused(r, "--max-tokens 2000000000", "max_position_embeddings 512", "use a smaller value");
    }

    /** train sizes a step's activations by --batch and --seqlen: an impossible pair is refused before the tokenizer is trained. */
    @Test
    void trainRefusesABatchThatCannotFitBeforeAnyWork() {
        Path out = dir.resolve("never-trained");
        String[] r = run("train", "--out", out.toString(), "--batch", "100000", "--seqlen", "2048");
        assertRefused(r, "--batch 100000 --seqlen 2048", "more than this Java's heap", "INTACTKV_JAVA_OPTS=-Xmx");
        assertTrue(r[1].isEmpty() && r[3].isEmpty(), r[1] + r[3]);
        assertFalse(Files.exists(out));
    }

    /**
     * An output folder a command creates (analyze, demo, theory-report) is removed by the shutdown
     * hook until it is complete, so Ctrl-C leaves no half-written folder; once done it is kept.
     */
    @Test
    void aFolderBeingWrittenIsRemovedOnCtrlCUntilDone() throws Exception {
        Path out = dir.resolve("figures");
        try {
            OutputFolder f = OutputFolder.open(out);
            assertTrue(intactkv.model.io.TempPaths.isRegistered(out), "removed if the JVM exits now");
            f.done();
            assertFalse(intactkv.model.io.TempPaths.isRegistered(out), "complete: kept");
            f.close();
            assertTrue(Files.isDirectory(out));
        } finally {
            OutputTarget.releaseAll();
        }
    }
}

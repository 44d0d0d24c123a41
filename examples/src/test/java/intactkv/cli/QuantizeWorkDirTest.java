package intactkv.cli;

import static intactkv.cli.BadInputTest.assertRefused;
import static intactkv.cli.BadInputTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaWeights;
import intactkv.quant.LayerCheckpoint;
import intactkv.quant.ModelQuantizer;
import intactkv.quant.QuantConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code quantize --work-dir DIR}: a GPTQ run stopped after a layer resumes from DIR and writes the checkpoint an
 * uninterrupted run writes, byte for byte; DIR is removed afterwards; a DIR of another run and methods that cannot
 * resume are refused before any model work.
 */
class QuantizeWorkDirTest {
    @TempDir
    static Path dir;
    static Path model;
    static Path text;

    @BeforeAll
    static void fixtures() throws Exception {
        model = ModelCommandsTest.tinyModel(dir.resolve("tiny"));
        StringBuilder b = new StringBuilder();
        java.util.Random r = new java.util.Random(5);
        String[] words = {"a", "b", "ab", "ba"};
        for (int i = 0; i < 40; i++) {
            for (int w = 0, n = 3 + r.nextInt(9); w < n; w++) {
                b.append(w == 0 ? "" : " ").append(words[r.nextInt(words.length)]);
            }
            b.append('\n');
        }
        text = Files.writeString(dir.resolve("calib.txt"), b);
    }

    private static List<String> flags(Path out) {
        return List.of("--model", model.toString(), "--method", "gptq", "--wbits", "4", "--group", "8", "--calib",
                text.toString(), "--calib-docs", "file", "--calib-samples", "3", "--calib-seqlen", "32", "--out",
                out.toString());
    }

    private static String[] quantize(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("quantize"));
        a.addAll(flags(out));
        a.addAll(List.of(more));
        return run(a.toArray(String[]::new));
    }

    /** Stops after the first of the two layers, as a time limit would, leaving DIR as such a run leaves it. */
    private static void stoppedRun(Path work) throws Exception {
        QuantizeCommand cmd = new QuantizeCommand();
        new CommandLine(cmd).parseArgs(flags(dir.resolve("never")).toArray(String[]::new));
        cmd.quant.validate();
        QuantConfig config = cmd.quant.config();
        List<int[]> calib = cmd.quant.calibration(config.method());
        LayerCheckpoint saved = LayerCheckpoint.open(work, LayerCheckpoint.modelFingerprint(model), config, calib, 2);
        ModelQuantizer.Progress stop = (stage, done) -> {
            if (done >= 0.5) {
                throw new IllegalStateException("stopped after layer 0");
            }
        };
        assertThrows(IllegalStateException.class, () -> ModelQuantizer.quantizeReleasingInBasis(
                new AtomicReference<>(LlamaWeights.load(model, false)), config, calib, stop, saved));
        assertTrue(Files.isRegularFile(work.resolve("layer-0/model.safetensors")));
    }

    @Test
    void aStoppedRunResumesAndWritesTheSameCheckpoint() throws Exception {
        Path plain = dir.resolve("q-plain");
        String[] a = quantize(plain);
        assertEquals("0", a[0], a[2]);

        Path work = dir.resolve("q-work");
        stoppedRun(work);
        Path resumed = dir.resolve("q-resumed");
        String[] b = quantize(resumed, "--work-dir", work.toString());
        assertEquals("0", b[0], b[2]);
        assertTrue(b[2].contains("resuming from " + work + ": 1 layers finished"), b[2]);
        assertArrayEquals(Files.readAllBytes(plain.resolve("model.safetensors")),
                Files.readAllBytes(resumed.resolve("model.safetensors")), "the same checkpoint, byte for byte");
        assertFalse(Files.exists(work), "the work directory is removed once the checkpoint is written");

        Path fresh = dir.resolve("q-fresh");
        String[] c = quantize(fresh, "--work-dir", dir.resolve("q-fresh-work").toString());
        assertEquals("0", c[0], c[2]);
        assertFalse(c[2].contains("resuming"), c[2]);
        assertArrayEquals(Files.readAllBytes(plain.resolve("model.safetensors")),
                Files.readAllBytes(fresh.resolve("model.safetensors")), "a new work directory: the same checkpoint");
    }

    @Test
    void anotherRunsWorkDirIsRefusedBeforeModelWork() throws Exception {
        Path work = dir.resolve("q-other-work");
        stoppedRun(work);
        Path out = dir.resolve("q-other");
        List<String> a = new ArrayList<>(List.of("quantize"));
        a.addAll(flags(out));
        a.set(a.indexOf("--wbits") + 1, "3"); // another run: 3-bit instead of 4-bit
        a.addAll(List.of("--work-dir", work.toString()));
        String[] r = run(a.toArray(String[]::new));
        assertRefused(r, "state.json", "field 'fingerprint.quant_config'", "use another --work-dir");
        assertFalse(r[3].contains("%"), "no progress before the refusal: " + r[3]);
        assertFalse(Files.exists(out));
        assertTrue(Files.isRegularFile(work.resolve("state.json")), "the other run's state is left as it was");
    }

    /** A saved layer damaged on disk is refused naming its file, not read as weights. */
    @Test
    void aDamagedSavedLayerIsRefusedNamingItsFile() throws Exception {
        Path work = dir.resolve("q-damaged-work");
        stoppedRun(work);
        Path layer = work.resolve("layer-0/model.safetensors");
        byte[] bytes = Files.readAllBytes(layer);
        Files.write(layer, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Path out = dir.resolve("q-damaged");
        String[] r = quantize(out, "--work-dir", work.toString());
        assertRefused(r, layer.toString());
        assertFalse(Files.exists(out));
    }

    @Test
    void methodsThatCannotResumeAndNestedDirectoriesAreRefused() {
        Path out = dir.resolve("q-rtn");
        String[] rtn = run("quantize", "--model", model.toString(), "--method", "rtn", "--wbits", "4", "--group", "8",
                "--out", out.toString(), "--work-dir", dir.resolve("w-rtn").toString());
        assertRefused(rtn, "--work-dir", "--method rtn cannot resume");
        assertFalse(Files.exists(dir.resolve("w-rtn")));
        Path gguf = Path.of("..", "model", "src", "test", "resources", "oracle", "gguf", "gqa_f32.gguf").toAbsolutePath()
                .normalize();
        String[] g = run("quantize", "--model", gguf.toString(), "--method", "gptq", "--wbits", "4", "--group", "8",
                "--calib", text.toString(), "--calib-docs", "file", "--calib-samples", "2", "--calib-seqlen", "16",
                "--out", dir.resolve("q-gguf").toString(), "--work-dir", dir.resolve("w-gguf").toString());
        assertRefused(g, "--work-dir needs a safetensors checkpoint directory", "gqa_f32.gguf");
        assertFalse(Files.exists(dir.resolve("w-gguf")));
        Path nested = dir.resolve("q-nested");
        String[] in = quantize(nested, "--work-dir", nested.resolve("work").toString());
        assertRefused(in, "--work-dir", "must not contain each other");
        assertFalse(Files.exists(nested));
    }
}

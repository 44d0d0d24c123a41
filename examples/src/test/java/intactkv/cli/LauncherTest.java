package intactkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./intactkv} launcher, run by bash: through a symlink on PATH (issue 26: it failed
 * there) it finds its own folder, and it tells Java whether standard error is a terminal. The
 * launcher is copied into a fresh folder with an up-to-date jar beside it (so it builds nothing)
 * and runs a stand-in {@code java} that prints its arguments. Needs bash: without it the test
 * fails, it does not skip.
 */
class LauncherTest {
    @TempDir
    Path dir;

    /** The launcher script of this checkout (the tests run in the examples module's folder). */
    private static Path launcher() {
        Path here = Path.of("").toAbsolutePath();
        for (Path p = here; p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("intactkv")) && Files.isRegularFile(p.resolve("pom.xml"))) {
                return p.resolve("intactkv");
            }
        }
        throw new AssertionError("no intactkv launcher above " + here);
    }

    @Test
    void aSymlinkChainOnPathFindsTheProjectAndStderrIsReported() throws Exception {
        Path home = Files.createDirectories(dir.resolve("project"));
        Files.copy(launcher(), home.resolve("intactkv"));
        Path jar = home.resolve("examples/target/intactkv.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "stand-in"); // newer than every source here: no build
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\necho \"$@\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        // a relative link to a link in another folder, as `ln -s ../project/intactkv ~/bin/intactkv` makes
        Path links = Files.createDirectories(dir.resolve("links"));
        Files.createSymbolicLink(links.resolve("first"), Path.of("../project/intactkv"));
        Path onPath = Files.createSymbolicLink(bin.resolve("intactkv"), links.resolve("first"));
        ProcessBuilder pb = new ProcessBuilder("bash", onPath.toString(), "--version").directory(dir.toFile());
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().remove("INTACTKV_JAVA_OPTS");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out + err);
        String real = home.toRealPath().toString();
        assertTrue(out.contains("-Dintactkv.home=" + real + " "), out);
        assertTrue(out.contains("-jar " + real + "/examples/target/intactkv.jar --version"), out);
        // standard error is a pipe here, so plain progress lines
        assertTrue(out.contains("-Dintactkv.stderr.tty=0"), out);
    }

    /** The launcher's heap: 3 GB for any command on the built-in model, 1 GB for the demo, 75 % where no config.json is found. */
    @Test
    void theHeapFollowsTheModel() throws Exception {
        Path home = Files.createDirectories(dir.resolve("p"));
        Files.copy(launcher(), home.resolve("intactkv"));
        Path jar = home.resolve("examples/target/intactkv.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "stand-in");
        Path bin = Files.createDirectories(dir.resolve("stub"));
        Path stub = bin.resolve("java");
        Files.writeString(stub, "#!/bin/sh\necho \"$@\"\n");
        Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));
        String[][] cases = {
            {"-Xmx3g", "quantize", "--model", "default", "--method", "awq"},
            {"-Xmx3g", "ppl", "--model=default"},
            {"-Xmx1g", "demo"},
            {"-Xmx1g", "demo", "--model", "default"},
            {"-XX:MaxRAMPercentage=75", "ppl", "--model", "/models/llama"},
        };
        for (String[] c : cases) {
            List<String> cmd = new ArrayList<>(List.of("bash", home.resolve("intactkv").toString()));
            cmd.addAll(List.of(c).subList(1, c.length));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
            pb.environment().remove("INTACTKV_JAVA_OPTS");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertTrue(out.contains(" " + c[0] + " "), String.join(" ", c) + ": " + out);
        }
    }

    /**
     * A checkpoint directory: the launcher asks {@link HeapRule} (here a stand-in java that answers -Xmx1234m for it)
     * and passes its answer to the command's Java; {@code --print-heap} prints it and runs nothing; an -Xmx of
     * INTACTKV_JAVA_OPTS skips the step (Java takes the user's, the last one).
     */
    @Test
    void aCheckpointsHeapComesFromTheHeapRule() throws Exception {
        Path home = Files.createDirectories(dir.resolve("h"));
        Files.copy(launcher(), home.resolve("intactkv"));
        Path jar = home.resolve("examples/target/intactkv.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "stand-in");
        Path model = Files.createDirectories(dir.resolve("ckpt"));
        Files.writeString(model.resolve("config.json"), "{}");
        Path bin = Files.createDirectories(dir.resolve("stub2"));
        Path stub = bin.resolve("java");
        Files.writeString(stub, "#!/bin/sh\ncase \"$*\" in *intactkv.cli.HeapRule*) echo -Xmx1234m ;; *) echo \"$@\" ;; esac\n");
        Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));
        String[][] cases = {
            {"", " -Xmx1234m -XX:+UseParallelGC ", "ppl", "--model", model.toString(), "--data", "x"},
            {"", "-Xmx1234m\n", "--print-heap", "ppl", "--model=" + model, "--data", "x"},
            {"-Xmx5g", " -XX:MaxRAMPercentage=75 -XX:+UseParallelGC ", "ppl", "--model", model.toString()},
            {"", " -Xmx1g ", "demo", "--model", model.toString()},
        };
        for (String[] c : cases) {
            List<String> cmd = new ArrayList<>(List.of("bash", home.resolve("intactkv").toString()));
            cmd.addAll(List.of(c).subList(2, c.length));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
            pb.environment().put("INTACTKV_JAVA_OPTS", c[0]);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            if (c[2].equals("--print-heap")) {
                assertEquals(c[1], out);
            } else {
                assertTrue(out.contains(c[1]), String.join(" ", c) + ": " + out);
            }
        }
    }

    @Test
    void theLauncherIsABashScript() throws IOException {
        assertTrue(Files.readString(launcher()).startsWith("#!/usr/bin/env bash\n"));
    }
}

package intactkv.cli;

import intactkv.model.io.AtomicFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The built-in model shipped in {@code examples/default-model/}: {@code --model default} finds
 * it (the launcher passes the repository root as {@code -Dintactkv.home}) and checks its files
 * against {@code SHA256SUMS} before use.
 */
final class DefaultModel {
    static final List<String> FILES = List.of("config.json", "model.safetensors", "tokenizer.json");

    private DefaultModel() {
    }

    /** The directory of the built-in model. */
    static Path dir() {
        String home = System.getProperty("intactkv.home");
        Path root = home != null ? Path.of(home) : Path.of(".");
        return root.resolve("examples").resolve("default-model");
    }

    /** {@code arg}, or the verified built-in model when {@code arg} is "default". */
    static Path resolve(Path arg) throws IOException {
        return resolve(arg, Path.of("").toAbsolutePath());
    }

    /**
     * {@code arg}, or the verified built-in model when {@code arg} is "default" and
     * {@code workingDir} has nothing named {@code default}. When it has, "default" could mean
     * either, and running one of them silently could report the numbers of the model the user
     * did not mean (a folder called default is a likely name for one's own model or output): the
     * ambiguity is refused, saying how to name each ({@code ./default} for the folder, the
     * built-in model's full path). A {@code ./default} that is the built-in model is no ambiguity.
     */
    static Path resolve(Path arg, Path workingDir) throws IOException {
        if (!arg.toString().equals("default")) {
            return arg;
        }
        Path d = dir();
        Path local = workingDir.resolve("default");
        if (Files.exists(local) && !(Files.exists(d) && Files.isSameFile(local, d))) {
            throw new IOException("--model default is ambiguous: the working directory has " + (Files.isDirectory(local)
                    ? "a folder" : "a file") + " named default (" + local + "), and 'default' also names the built-in"
                    + " model; pass --model ./default for the folder, or --model " + d.toAbsolutePath().normalize()
                    + " for the built-in model");
        }
        verify(d);
        return d;
    }

    /** Checks every file against SHA256SUMS; the error says how to restore the model. */
    static void verify(Path d) throws IOException {
        Path sums = d.resolve("SHA256SUMS");
        String restore = " Restore it with 'git checkout -- examples/default-model' or rebuild it with the command in"
                + " docs/DEFAULT_MODEL.md.";
        if (!Files.isRegularFile(sums)) {
            throw new IOException("the built-in model is missing (" + sums + " not found)." + restore);
        }
        for (String line : Files.readAllLines(sums)) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.trim().split("\\s+", 2);
            Path file = d.resolve(f[1]);
            if (!Files.isRegularFile(file)) {
                throw new IOException("the built-in model is incomplete: " + file + " is missing." + restore);
            }
            if (!sha256(file).equals(f[0])) {
                throw new IOException("the built-in model file " + file + " is corrupted (SHA-256 mismatch)." + restore);
            }
        }
    }

    /** Writes SHA256SUMS for the model files in {@code d}. */
    static void writeChecksums(Path d) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String f : FILES) {
            sb.append(sha256(d.resolve(f))).append("  ").append(f).append('\n');
        }
        AtomicFiles.writeString(d.resolve("SHA256SUMS"), sb.toString());
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

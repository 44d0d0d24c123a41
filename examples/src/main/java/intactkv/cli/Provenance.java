package intactkv.cli;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import picocli.CommandLine;

/**
 * What a figure or JSON file was made from, so that a reader of the file alone can tell: the
 * command line, the model (its directory and the SHA-256 of every weights, configuration and
 * tokenizer file in it: {@code *.safetensors} and {@code *.json}), and the input (the literal
 * {@code --text}, or a file's path, or a described corpus, each with the SHA-256 of the bytes
 * analysed). Written into every JSON as a {@code "provenance"} object, into every PNG as text
 * chunks ({@link #pngText}) and drawn along the figure's bottom edge ({@link #footer}).
 *
 * @param command    the command line, shell-quoted: {@code intactkv analyze --model default ...}
 * @param model      the model directory as given ({@code default} for the built-in one), null for none
 * @param modelDir   the absolute directory it resolved to ({@code examples/default-model (built-in)} for
 *                   the built-in one), null for none
 * @param modelFiles file name to SHA-256 (hex) of the model's files, sorted by name
 * @param input      what was analysed
 */
record Provenance(String command, String model, String modelDir, Map<String, String> modelFiles, Input input) {
    Provenance {
        modelFiles = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(modelFiles));
    }

    /**
     * The input: {@code kind} is "text" (value = the literal text), "file" (value = its path),
     * "corpus" (value = a description) or "generated" (value = a description, sha256 null);
     * {@code sha256} is of the UTF-8 text or the file's bytes.
     */
    record Input(String kind, String value, String sha256) {
        static Input text(String text) {
            return new Input("text", text, Provenance.sha256(text.getBytes(StandardCharsets.UTF_8)));
        }

        static Input file(Path file) throws IOException {
            return new Input("file", file.toString(), DefaultModel.sha256(file));
        }

        static Input corpus(String description, String textUsed) {
            return new Input("corpus", description, Provenance.sha256(textUsed.getBytes(StandardCharsets.UTF_8)));
        }

        /** Input the command generates itself (random heads, say), described; no hash. */
        static Input generated(String description) {
            return new Input("generated", description, null);
        }
    }

    /** Provenance of the running command {@code spec}, on the model given as {@code modelArg} (null: none). */
    static Provenance of(CommandLine.Model.CommandSpec spec, Path modelArg, Input input) throws IOException {
        String model = null;
        String dir = null;
        Map<String, String> files = new LinkedHashMap<>();
        if (modelArg != null) {
            Path d = ModelDir.check(modelArg);
            model = modelArg.toString();
            // the built-in model by its place in the repository, so committed figures name no local path
            dir = modelArg.toString().equals("default") ? "examples/default-model (built-in)"
                    : d.toAbsolutePath().normalize().toString();
            if (Files.isRegularFile(d)) { // a GGUF file: itself
                files.put(d.getFileName().toString(), DefaultModel.sha256(d));
            } else {
                try (Stream<Path> s = Files.list(d)) {
                    for (Path f : s.filter(Files::isRegularFile).sorted().toList()) {
                        String n = f.getFileName().toString();
                        if (n.endsWith(".safetensors") || n.endsWith(".json")) {
                            files.put(n, DefaultModel.sha256(f));
                        }
                    }
                }
            }
        }
        return new Provenance(commandLine(spec), model, dir, files, input);
    }

    /** {@code intactkv <subcommand> <arguments>}, each argument quoted for a POSIX shell where it needs it. */
    static String commandLine(CommandLine.Model.CommandSpec spec) {
        List<String> parts = new ArrayList<>();
        parts.add(spec.root().name());
        parts.add(spec.name());
        CommandLine.ParseResult pr = spec.commandLine().getParseResult();
        List<String> args = pr == null ? List.of() : pr.originalArgs();
        // the original arguments start with the subcommand's name (and any options before it)
        int from = Math.max(0, args.indexOf(spec.name()) + 1);
        for (String a : args.subList(from, args.size())) {
            parts.add(quote(a));
        }
        return String.join(" ", parts);
    }

    static String quote(String a) {
        if (!a.isEmpty() && a.matches("[A-Za-z0-9_./:=,+@%-]+")) {
            return a;
        }
        return "'" + a.replace("'", "'\\''") + "'";
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The {@code "provenance"} object of a JSON output. */
    JsonObject toJson() {
        JsonObject j = new JsonObject();
        j.addProperty("command", command);
        JsonObject m = new JsonObject();
        m.addProperty("given_as", model);
        m.addProperty("directory", modelDir);
        JsonObject f = new JsonObject();
        modelFiles.forEach(f::addProperty);
        m.add("sha256", f);
        j.add("model", model == null ? com.google.gson.JsonNull.INSTANCE : m);
        JsonObject in = new JsonObject();
        in.addProperty("kind", input.kind());
        in.addProperty("value", input.value());
        in.addProperty("sha256", input.sha256());
        j.add("input", in);
        return j;
    }

    /** PNG text entries: Title, Software, Source (the model), Model SHA-256, Input, Input SHA-256, Command. */
    Map<String, String> pngText(String title) {
        Map<String, String> t = new LinkedHashMap<>();
        t.put("Title", title);
        t.put("Software", "intactkv (IntactKV in Java)");
        t.put("Source", model == null ? "no model" : model + " (" + modelDir + ")");
        StringBuilder sums = new StringBuilder();
        modelFiles.forEach((n, h) -> sums.append(sums.length() == 0 ? "" : "\n").append(h).append("  ").append(n));
        t.put("Model SHA-256", sums.toString());
        t.put("Input", input.kind() + ": " + input.value());
        t.put("Input SHA-256", input.sha256() == null ? "none (generated)" : input.sha256());
        t.put("Command", command);
        return t;
    }

    /** Three short lines for the figure's bottom edge; the full values are in {@link #pngText}. */
    List<String> footer() {
        String weights = modelFiles.entrySet().stream().filter(e -> e.getKey().endsWith(".safetensors"))
                .map(e -> e.getKey() + " sha256 " + e.getValue().substring(0, 16) + "…").reduce((a, b) -> a + ", " + b)
                .orElse("no weights file");
        String inputText = input.value().replace('\n', ' ');
        return List.of("model: " + (model == null ? "none" : model + " (" + modelDir + "); " + weights),
                "input: " + input.kind() + (input.sha256() == null ? "" : " sha256 " + input.sha256().substring(0, 16) + "…")
                        + ": " + inputText,
                "command: " + command);
    }
}

package intactkv.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.longs;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.model.text.Tokenizer;
import intactkv.train.BpeTrainer;
import intactkv.prefix.IntactKvPrefix;
import intactkv.prefix.ShareGptConversation;
import intactkv.prefix.ShareGptSelection;
import intactkv.quant.Calibration;
import intactkv.quant.QuantConfig;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every parser of the project against {@value #CASES} mutations of a valid file each (QuickTheories,
 * fixed seeds; {@link Mutator}): each case either loads or throws {@link FormatException} whose
 * message starts with the file and says where the problem is (a quoted field or tensor name, a
 * line, column or byte position, or the file-level fact: truncated, empty, header length).
 * Anything else (another exception, an OutOfMemoryError from an allocation sized by the file)
 * fails the property. The outcome counts are written to {@code target/reliability/PARSER.csv}
 * for docs/RELIABILITY.md.
 */
class ParserFuzzTest {
    static final int CASES = 2000;

    @TempDir
    static Path tmp;

    static Tokenizer tok;
    static LlamaConfig config;

    /** Text of our own for the tokenizer and the data files (no third-party text). */
    static final List<String> TEXT = List.of("the cat sat on the warm mat", "a dog ran after the red ball",
            "numbers like 42 and 7 appear here", "caf\u00e9 cr\u00e8me and na\u00efve words", "\u4e2d\u6587 text too",
            "the end of the small corpus", "every line is one document", "quantized models lose a little accuracy");

    @BeforeAll
    static void fixtures() throws IOException {
        Path f = tmp.resolve("tok.json");
        BpeTrainer.write(BpeTrainer.train(TEXT, 300), f);
        tok = Tokenizer.load(f);
        config = new LlamaConfig(16, 32, 2, 1, 2, 1e-5, 10000, tok.vocabSize(), 128, false, tok.bosId(), tok.eosId());
    }

    @FunctionalInterface
    interface Loader {
        void load(Path file) throws Exception;
    }

    /** Runs the property for one parser; {@code file} receives each mutated case, {@code source} starts every message. */
    static void fuzz(String parser, long seed, Function<Random, Mutator.Case> mutate, Path file, String source,
                     java.util.Set<String> names, double minRefused, Loader load) throws IOException {
        Map<String, Integer> outcomes = new TreeMap<>();
        int[] ran = {0};
        qt().withFixedSeed(seed).withExamples(CASES).forAll(longs().all()).checkAssert(s -> {
            Mutator.Case c = mutate.apply(new Random(s));
            ran[0]++;
            try {
                Files.write(file, c.bytes());
                load.load(file);
                outcomes.merge("loaded", 1, Integer::sum);
            } catch (FormatException e) {
                String m = e.getMessage();
                assertTrue(m.startsWith(source), parser + ", " + c.what() + ": message does not start with " + source
                        + ": " + m);
                assertTrue(saysWhere(m.substring(source.length()), names), parser + ", " + c.what()
                        + ": message names no field, tensor or position: " + m);
                outcomes.merge("refused: " + category(m.substring(m.indexOf(": ", source.length() - 1) + 2)), 1,
                        Integer::sum);
            } catch (Throwable t) {
                throw new AssertionError(parser + ", " + c.what() + ": threw " + t, t);
            }
        });
        assertTrue(ran[0] >= CASES, parser + ": ran " + ran[0] + " cases");
        int refused = outcomes.entrySet().stream().filter(e -> e.getKey().startsWith("refused")).mapToInt(Map.Entry::getValue)
                .sum();
        assertTrue(outcomes.getOrDefault("loaded", 0) > 0, parser + ": no case loaded (is the valid file valid?)");
        assertTrue(refused >= minRefused * CASES, parser + ": only " + refused + " of " + ran[0] + " mutations refused: " + outcomes);
        Path dir = Path.of("target", "reliability");
        Files.createDirectories(dir);
        StringBuilder csv = new StringBuilder("outcome,cases\n");
        outcomes.forEach((k, v) -> csv.append('"').append(k.replace("\"", "'")).append("\",").append(v).append('\n'));
        Files.writeString(dir.resolve(parser + ".csv"), csv);
    }

    /**
     * Whether a message (after the source) says where: one of the valid file's field or tensor
     * {@code names}, a position (line, column, byte, an array element '[i]'), or a file-level fact.
     */
    static boolean saysWhere(String m, java.util.Set<String> names) {
        return names.stream().anyMatch(m::contains) || m.matches("(?s).*(line|column|byte|offset) \\d+.*")
                || m.matches("(?s).*'\\[\\d+\\].*") || m.matches(
                "(?s).*(truncated|empty|header length|not a JSON object|not a JSON array|not an IntactKV prefix|no conversation"
                        + "|largest token id|ids must be contiguous).*");
    }

    /** The kind of a refusal for the outcome table: its first words, numbers and quoted names removed. */
    static String category(String m) {
        String s = m.replaceAll("'[^']*'", "X").replaceAll("\"[^\"]*\"", "X").replaceAll("(?<![\\w-])-?\\d[\\d.eE+-]*", "N");
        String[] w = s.split("\\s+");
        return String.join(" ", java.util.Arrays.copyOf(w, Math.min(5, w.length))).replaceAll("[,:(]+$", "");
    }

    /** The keys of a JSON document, at every depth (the field names a message may name). */
    static java.util.Set<String> keys(String json) {
        java.util.Set<String> out = new java.util.HashSet<>();
        collectKeys(com.google.gson.JsonParser.parseString(json), out);
        return out;
    }

    private static void collectKeys(com.google.gson.JsonElement e, java.util.Set<String> out) {
        if (e.isJsonObject()) {
            for (Map.Entry<String, com.google.gson.JsonElement> kv : e.getAsJsonObject().entrySet()) {
                out.add(kv.getKey());
                collectKeys(kv.getValue(), out);
            }
        } else if (e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> collectKeys(x, out));
        }
    }

    /** The header keys of a safetensors file (tensor names, field names). */
    static java.util.Set<String> headerKeys(byte[] st) {
        long n = ByteBuffer.wrap(st, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return keys(new String(st, 8, (int) n, StandardCharsets.UTF_8));
    }

    @Test
    void configJson() throws IOException {
        Path f = tmp.resolve("config.json");
        config.write(f, "float32");
        String valid = Files.readString(f);
        fuzz("config.json", 101, r -> Mutator.json(valid, r), f, f.toString(), keys(valid), 0.25, LlamaConfig::read);
    }

    @Test
    void quantConfigJson() throws IOException {
        Path f = tmp.resolve("quant_config.json");
        QuantConfig.w3g128().write(f);
        String valid = Files.readString(f);
        fuzz("quant_config.json", 102, r -> Mutator.json(valid, r), f, f.toString(), keys(valid), 0.25,
                QuantConfig::read);
    }

    @Test
    void tokenizerJson() throws IOException {
        String valid = Files.readString(tmp.resolve("tok.json"));
        Path f = tmp.resolve("tokenizer.json");
        fuzz("tokenizer.json", 103, r -> Mutator.json(valid, r), f, f.toString(), keys(valid), 0.25,
                p -> Tokenizer.load(p).encode(
                TEXT.get(3), true));
    }

    /** A small safetensors file: F32, F16 and I64 tensors and metadata. */
    static byte[] safetensors(Random rng) throws IOException {
        Path f = tmp.resolve("valid.safetensors");
        new SafetensorsWriter().metadata("format", "pt")
                .put("a.weight", DType.F32, intactkv.tensor.Init.normal(rng, 1, 3, 4))
                .put("b", DType.F16, intactkv.tensor.Init.normal(rng, 1, 5))
                .putLongs("ids", DType.I64, new long[] {1, 2, 3}, Shape.of(3)).write(f);
        return Files.readAllBytes(f);
    }

    /** Safetensors: half the cases mutate the header JSON (the length prefix kept consistent), half the bytes. */
    static Mutator.Case mutateSafetensors(byte[] valid, Random r) {
        if (r.nextBoolean()) {
            return Mutator.bytes(valid, r);
        }
        long n = ByteBuffer.wrap(valid, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(valid, 8, (int) n, StandardCharsets.UTF_8);
        Mutator.Case h = Mutator.json(header, r);
        byte[] out = new byte[8 + h.bytes().length + valid.length - 8 - (int) n];
        ByteBuffer.wrap(out, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.bytes().length);
        System.arraycopy(h.bytes(), 0, out, 8, h.bytes().length);
        System.arraycopy(valid, 8 + (int) n, out, 8 + h.bytes().length, valid.length - 8 - (int) n);
        return new Mutator.Case(out, "header: " + h.what());
    }

    static void readAll(SafetensorsReader r) throws IOException {
        for (String name : r.names()) {
            if (r.entry(name).dtype().isInteger()) {
                r.readLongs(name);
            } else {
                r.read(name);
            }
        }
    }

    @Test
    void safetensors() throws IOException {
        byte[] valid = safetensors(new Random(5));
        Path f = tmp.resolve("model.safetensors");
        fuzz("safetensors", 104, r -> mutateSafetensors(valid, r), f, f.toString(), headerKeys(valid), 0.25, p -> {
            try (SafetensorsReader r = SafetensorsReader.open(p)) {
                readAll(r);
            }
        });
    }

    @Test
    void shardedIndexJson() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("sharded"));
        Files.write(dir.resolve("model-00001-of-00002.safetensors"), safetensors(new Random(6)));
        new SafetensorsWriter().put("c", DType.F32, Tensor.of(new double[] {1, 2}, 2))
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        String valid = "{\"metadata\": {\"total_size\": 70}, \"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\","
                + " \"b\": \"model-00001-of-00002.safetensors\", \"c\": \"model-00002-of-00002.safetensors\"}}";
        Path f = dir.resolve(CheckpointReader.INDEX);
        fuzz("model.safetensors.index.json", 105, r -> Mutator.json(valid, r), f, dir.toString(), keys(valid), 0.25,
                p -> {
            try (CheckpointReader r = CheckpointReader.open(dir)) {
                for (String name : r.names()) {
                    r.readFinite(name);
                }
            }
        });
    }

    @Test
    void intactKvPrefixFile() throws IOException {
        LlamaModel m = new LlamaModel(LlamaWeights.random(config, 3, 0.2, true, false));
        Path good = tmp.resolve("good-prefix.safetensors");
        IntactKvPrefix.generate(m, new int[] {tok.bosId(), 5, 9}).save(good);
        byte[] valid = Files.readAllBytes(good);
        Path f = tmp.resolve("prefix.safetensors");
        fuzz("prefix", 106, r -> mutateSafetensors(valid, r), f, f.toString(), headerKeys(valid), 0.25,
                p -> IntactKvPrefix.load(p, config));
    }

    /** A JSONL file with one line mutated as JSON (or as bytes) and the others kept. */
    static Mutator.Case oneLineMutated(List<String> lines, Random r) {
        List<String> out = new ArrayList<>(lines);
        int at = r.nextInt(out.size());
        Mutator.Case c = Mutator.json(out.get(at), r);
        out.set(at, new String(c.bytes(), StandardCharsets.UTF_8).replace('\n', ' '));
        return new Mutator.Case(String.join("\n", out).getBytes(StandardCharsets.UTF_8), "line " + (at + 1) + ": "
                + c.what());
    }

    @Test
    void shareGptJsonl() throws IOException {
        List<String> lines = shareGptRecords();
        Path f = tmp.resolve("sharegpt.jsonl");
        fuzz("sharegpt.jsonl", 107, r -> oneLineMutated(lines, r), f, f.toString(), keys(lines.get(0)), 0.25,
                ParserFuzzTest::selectOne);
    }

    @Test
    void shareGptJsonArray() throws IOException {
        List<String> lines = shareGptRecords();
        byte[] valid = ("[\n" + String.join(",\n", lines) + "\n]\n").getBytes(StandardCharsets.UTF_8);
        Path f = tmp.resolve("sharegpt.json");
        fuzz("sharegpt.json", 110, r -> Mutator.json(new String(valid, StandardCharsets.UTF_8), r), f, f.toString(),
                keys(lines.get(0)), 0.25, ParserFuzzTest::selectOne);
    }

    /** ShareGPT records of our own text, one JSON object each. */
    static List<String> shareGptRecords() {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i + 1 < TEXT.size(); i += 2) {
            lines.add("{\"id\": \"c" + i + "\", \"conversations\": [{\"from\": \"human\", \"value\": \"" + TEXT.get(i)
                    + "\"}, {\"from\": \"gpt\", \"value\": \"" + TEXT.get(i + 1) + "\"}]}");
        }
        return lines;
    }

    /** Reads a ShareGPT file and picks one conversation as the official selection does (any answer length). */
    static void selectOne(Path p) throws IOException {
        ShareGptSelection.select(ShareGptConversation.read(p), t -> tok.encode(t, false), tok.bosId(),
                new ShareGptSelection.Settings(1, 4096, 0, 42, 4096), p.toString());
    }

    @Test
    void multipleChoiceJsonl() throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i + 1 < TEXT.size(); i++) {
            lines.add("{\"context\": \"" + TEXT.get(i) + "\", \"choices\": [\" " + TEXT.get(i + 1) + "\", \" no\"],"
                    + " \"label\": " + (i % 2) + ", \"subject\": \"s" + (i % 3) + "\"}");
        }
        Path f = tmp.resolve("items.jsonl");
        fuzz("items.jsonl", 109, r -> oneLineMutated(lines, r), f, f.toString(), keys(lines.get(0)), 0.25, intactkv.eval.McItem::readJsonl);
    }

    @Test
    void plainDataFile() throws IOException {
        byte[] valid = String.join("\n", TEXT).getBytes(StandardCharsets.UTF_8);
        Path f = tmp.resolve("data.txt");
        // byte changes to plain text mostly leave valid UTF-8 text, which loads: at least 10 % refused
        fuzz("data.txt", 108, r -> Mutator.bytes(valid, r), f, f.toString(), java.util.Set.of(), 0.1, p -> tok.encode(Calibration.readText(p),
                true));
    }
}

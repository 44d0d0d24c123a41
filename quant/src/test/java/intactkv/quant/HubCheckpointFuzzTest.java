package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.longs;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPTQ and AWQ readers against {@value #CASES} seeded mutations each of a small valid checkpoint (QuickTheories,
 * fixed seeds): a field of {@code quantization_config} or {@code quantize_config.json} set to another value or
 * removed, a byte of config.json changed, a byte of the safetensors header or of the tensor data changed, the
 * header length changed, the file cut short. Each case either loads or throws an {@link IOException} whose message
 * names the checkpoint's directory or file and says where (a field or tensor name, quoted or of the valid files,
 * a byte position, or the file-level fact); any other exception fails the property.
 */
class HubCheckpointFuzzTest {
    static final int CASES = 2000;
    /** d 32, d_ff 64, 2 heads, 1 layer: 3-bit codes of every linear fill whole words. */
    static final LlamaConfig C = new LlamaConfig(32, 64, 2, 2, 1, 1e-5, 10000, 16, 64, false, 1, 2);

    @TempDir
    Path tmp;

    /** The files of a valid checkpoint: name to bytes. */
    private Map<String, byte[]> valid(HubCheckpoint.Target target, LlamaWeights fp) throws Exception {
        QuantConfig config = target == HubCheckpoint.Target.AUTOGPTQ
                ? new QuantConfig(Method.GPTQ, WeightQuantizer.Spec.asym(3, 16), QuantConfig.OFF, QuantConfig.OFF, 0)
                : new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(4, 16), QuantConfig.OFF, QuantConfig.OFF, 0);
        QuantizedModel q = QuantizedModel.quantize(fp, config, AwqTest.calib(C, 2, 16, 3), ModelQuantizer.Progress.NONE);
        Path dir = tmp.resolve("valid-" + target.id());
        HubCheckpoint.save(q.model().weights(), q.config(), q.basis(), target, dir, DType.F16);
        Files.deleteIfExists(dir.resolve(Basis.AwqScaled.FILE)); // the reader's files only (a Hub AutoAWQ checkpoint)
        Map<String, byte[]> files = new TreeMap<>();
        try (var list = Files.list(dir)) {
            for (Path f : (Iterable<Path>) list::iterator) {
                files.put(f.getFileName().toString(), Files.readAllBytes(f));
            }
        }
        QuantizedModel.load(dir, fp, null, null); // as written, it loads
        return files;
    }

    @Test
    void gptqReaderGivesOnlyNamedErrors() throws Exception {
        fuzz(HubCheckpoint.Target.AUTOGPTQ, 29L);
    }

    @Test
    void awqReaderGivesOnlyNamedErrors() throws Exception {
        fuzz(HubCheckpoint.Target.AUTOAWQ, 31L);
    }

    private void fuzz(HubCheckpoint.Target target, long seed) throws Exception {
        LlamaWeights fp = LlamaWeights.random(C, 7, 0.3, true, false);
        Map<String, byte[]> valid = valid(target, fp);
        Set<String> names = new HashSet<>();
        Path probe = tmp.resolve("probe");
        Files.createDirectories(probe);
        Files.write(probe.resolve("model.safetensors"), valid.get("model.safetensors"));
        try (SafetensorsReader r = SafetensorsReader.open(probe.resolve("model.safetensors"))) {
            names.addAll(r.names());
        }
        for (String f : valid.keySet()) {
            if (f.endsWith(".json")) {
                keys(JsonParser.parseString(new String(valid.get(f), StandardCharsets.UTF_8)), "", names);
            }
        }
        Path dir = tmp.resolve("case-" + target.id());
        Files.createDirectories(dir);
        Map<String, Integer> outcomes = new TreeMap<>();
        Map<String, byte[]> onDisk = new TreeMap<>();
        int[] ran = {0};
        qt().withFixedSeed(seed).withExamples(CASES).forAll(longs().all()).checkAssert(s -> {
            Random rng = new Random(s);
            Map<String, byte[]> files = new TreeMap<>(valid);
            String what = mutate(rng, files);
            ran[0]++;
            try {
                for (var e : files.entrySet()) {
                    if (onDisk.get(e.getKey()) != e.getValue()) { // only the files that differ from the last case's
                        Files.write(dir.resolve(e.getKey()), e.getValue());
                        onDisk.put(e.getKey(), e.getValue());
                    }
                }
                QuantizedModel.load(dir, fp, null, null);
                outcomes.merge("loaded", 1, Integer::sum);
            } catch (IOException e) {
                String m = String.valueOf(e.getMessage());
                assertTrue(m.contains(dir.toString()), what + ": message does not name the checkpoint: " + m);
                assertTrue(names.stream().anyMatch(m::contains) || m.matches("(?s).*'[^']+'.*")
                        || m.matches("(?s).*(byte|offset|element) \\d+.*")
                        || m.matches("(?s).*(truncated|empty|header length|not a JSON object|JSON|no such file).*"),
                        what + ": message names no field, tensor or position: " + m);
                outcomes.merge("refused: " + category(m.substring(m.indexOf(": ") + 2)), 1, Integer::sum);
            } catch (Throwable t) {
                throw new AssertionError(what + ": threw " + t, t);
            }
        });
        assertTrue(ran[0] >= CASES, "ran " + ran[0] + " cases");
        assertTrue(outcomes.getOrDefault("loaded", 0) > 0, "no case loaded: " + outcomes);
        int refused = outcomes.entrySet().stream().filter(e -> e.getKey().startsWith("refused")).mapToInt(Map.Entry::getValue)
                .sum();
        assertTrue(refused >= CASES / 4, "too few refused: " + outcomes);
        Path out = Path.of("target", "reliability");
        Files.createDirectories(out);
        StringBuilder csv = new StringBuilder("outcome,cases\n");
        outcomes.forEach((k, v) -> csv.append('"').append(k.replace("\"", "'")).append("\",").append(v).append('\n'));
        Files.writeString(out.resolve("HUB_" + target.id().toUpperCase(java.util.Locale.ROOT) + ".csv"), csv);
    }

    /** The kind of a refusal for the outcome table: its first five words, quoted names, paths and numbers removed. */
    static String category(String m) {
        String s = m.replaceAll("'[^']*'", "X").replaceAll("/\\S+", "F").replaceAll("(?<![\\w-])-?\\d[\\d.eE+-]*", "N");
        String[] w = s.split("\\s+");
        return String.join(" ", java.util.Arrays.copyOf(w, Math.min(5, w.length))).replaceAll("[,:(]+$", "");
    }

    /** Every key of a JSON document, at every depth. */
    private static void keys(JsonElement e, String path, Set<String> out) {
        if (e.isJsonObject()) {
            for (var k : e.getAsJsonObject().entrySet()) {
                out.add(k.getKey());
                keys(k.getValue(), k.getKey(), out);
            }
        }
    }

    private static final JsonElement[] VALUES = {new JsonPrimitive(0), new JsonPrimitive(-1), new JsonPrimitive(1),
        new JsonPrimitive(3), new JsonPrimitive(4), new JsonPrimitive(5), new JsonPrimitive(8), new JsonPrimitive(16),
        new JsonPrimitive(7), new JsonPrimitive(1 << 30), new JsonPrimitive(2.5), new JsonPrimitive("gptq"),
        new JsonPrimitive("awq"), new JsonPrimitive("gemv"), new JsonPrimitive("gptq_v2"), new JsonPrimitive("marlin"),
        new JsonPrimitive(""), new JsonPrimitive(true), new JsonPrimitive(false), JsonNull.INSTANCE, new JsonArray(),
        new JsonObject()};

    /** Changes one file of {@code files} and says how. */
    private static String mutate(Random rng, Map<String, byte[]> files) {
        int kind = rng.nextInt(6);
        if (kind <= 1) {
            String f = files.containsKey(HubQuantConfig.GPTQ_FILE) && rng.nextBoolean() ? HubQuantConfig.GPTQ_FILE
                    : "config.json";
            JsonObject o = JsonParser.parseString(new String(files.get(f), StandardCharsets.UTF_8)).getAsJsonObject();
            JsonObject q = f.equals("config.json") && rng.nextInt(4) > 0 ? o.getAsJsonObject("quantization_config") : o;
            List<String> keys = new ArrayList<>(q.keySet());
            String key = keys.get(rng.nextInt(keys.size()));
            String how;
            if (rng.nextInt(5) == 0) {
                q.remove(key);
                how = "removed";
            } else {
                JsonElement v = VALUES[rng.nextInt(VALUES.length)];
                q.add(key, v);
                how = "= " + v;
            }
            files.put(f, o.toString().getBytes(StandardCharsets.UTF_8));
            return f + " field " + key + " " + how;
        }
        if (kind == 2) {
            byte[] b = files.get("config.json").clone();
            int at = rng.nextInt(b.length);
            String chars = " {}[],:\"0123456789-.aeflnrstu";
            b[at] = (byte) chars.charAt(rng.nextInt(chars.length()));
            files.put("config.json", b);
            return "config.json byte " + at;
        }
        byte[] b = files.get("model.safetensors").clone();
        int header = (int) ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (kind == 3) {
            int at = 8 + rng.nextInt(header);
            String chars = "{}[],:\"0123456789_.ABFISUIabcdefghijklmnopqrstuvwxyz";
            b[at] = (byte) chars.charAt(rng.nextInt(chars.length()));
            files.put("model.safetensors", b);
            return "header byte " + at;
        }
        if (kind == 4) {
            int at = 8 + header + rng.nextInt(b.length - 8 - header);
            int n = 1 + rng.nextInt(4);
            for (int i = 0; i < n && at + i < b.length; i++) {
                b[at + i] = (byte) rng.nextInt(256);
            }
            files.put("model.safetensors", b);
            return "data bytes at " + at;
        }
        if (rng.nextBoolean()) {
            long len = rng.nextBoolean() ? header + rng.nextInt(64) - 32 : rng.nextLong();
            ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(len);
            files.put("model.safetensors", b);
            return "header length " + len;
        }
        int keep = rng.nextInt(b.length);
        files.put("model.safetensors", java.util.Arrays.copyOf(b, keep));
        return "cut at " + keep;
    }
}

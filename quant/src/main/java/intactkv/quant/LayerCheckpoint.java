package intactkv.quant;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import intactkv.autograd.Value;
import intactkv.model.LlamaWeights;
import intactkv.model.io.AtomicFiles;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.JsonFields;
import intactkv.model.io.JsonFile;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The state of a layer-by-layer quantization ({@link Gptq#sequential}: GPTQ and QuaRot) after its last finished
 * layer, kept in a directory so that a run that is stopped (Ctrl-C, a machine's time limit, a crash) resumes
 * there instead of starting again: a 7B-shaped GPTQ run takes hours on a small machine. After layer l the directory
 * holds
 * <pre>
 *   layer-l/model.safetensors    layer l's quantized linears (codes and F64 scales and zeros, {@link PackedCheckpoint})
 *   inputs-(l+1).safetensors     the calibration inputs of layer l + 1 ("input.n", (1, T_n, d), in the run's
 *                                {@link ActivationStore}: F64, or F32 when the run holds them as floats)
 *   state.json                   {"layers_done": l + 1, the run's fingerprint}
 * </pre>
 * Both parts are exact (codes are integers, scales and zeros and F64 inputs are doubles, F32 inputs are the floats
 * the run holds), so a resumed run computes what an uninterrupted one computes, bit for bit. Every file is written
 * under a temporary name and renamed; state.json is renamed last, so a run stopped while saving resumes from the
 * layer before. The official code has no such state (gptq/llama.py::llama_sequential keeps everything in memory).
 *
 * <p>The fingerprint names what the saved state depends on: the model (its config.json and safetensors headers,
 * given by the caller), the {@link QuantConfig}, the calibration token ids and the activation store. A directory
 * whose fingerprint differs in any field is refused naming that field, never silently mixed into another run.
 */
public final class LayerCheckpoint {
    static final String STATE = "state.json";
    private static final String FORMAT = "intactkv-layer-checkpoint";

    private final Path dir;
    private final Map<String, String> fingerprint;
    private final QuantConfig config;
    private int layersDone;

    private LayerCheckpoint(Path dir, Map<String, String> fingerprint, QuantConfig config, int layersDone) {
        this.dir = dir;
        this.fingerprint = fingerprint;
        this.config = config;
        this.layersDone = layersDone;
    }

    /**
     * Opens (or creates) the state directory {@code dir} of a run: {@code model} are the caller's fields naming the
     * model (e.g. {@link #modelFingerprint}), to which the quantizer's configuration, the calibration token ids and
     * the activation store are added. An existing state.json must hold the same fingerprint and at most
     * {@code layers} finished layers, else the run is refused naming the field.
     */
    public static LayerCheckpoint open(Path dir, Map<String, String> model, QuantConfig config, List<int[]> calib,
                                       int layers) throws IOException {
        Map<String, String> fp = new LinkedHashMap<>(model);
        fp.put("quant_config", config.toString());
        fp.put("calibration_sha256", tokensSha256(calib));
        fp.put("calibration_sequences", Integer.toString(calib.size()));
        fp.put("activations", CalibrationSet.storeOf(calib).name());
        fp.put("num_hidden_layers", Integer.toString(layers));
        Path state = dir.resolve(STATE);
        if (!Files.isRegularFile(state)) {
            if (Files.exists(dir) && !Files.isDirectory(dir)) {
                throw new IOException(dir + ": exists and is not a directory; choose another --work-dir");
            }
            Files.createDirectories(dir);
            return new LayerCheckpoint(dir, fp, config, 0);
        }
        JsonFields o = JsonFile.read(state);
        if (!FORMAT.equals(o.string("format", null))) {
            throw new FormatException(state, "field 'format' must be \"" + FORMAT + "\"; this is not a quantize"
                    + " work directory");
        }
        JsonFields saved = o.object("fingerprint");
        for (Map.Entry<String, String> e : fp.entrySet()) {
            String was = saved.has(e.getKey()) ? saved.string(e.getKey(), null) : "(absent)";
            if (!was.equals(e.getValue())) {
                throw new FormatException(state, "field 'fingerprint." + e.getKey() + "' is " + was + ", but this run"
                        + " has " + e.getValue() + "; the saved layers belong to another run: use another --work-dir or"
                        + " delete " + dir);
            }
        }
        int done = o.integer("layers_done", null, 0, layers);
        return new LayerCheckpoint(dir, fp, config, done);
    }

    /** How many layers the saved state has finished (0 for a new directory): the run resumes at this layer. */
    public int layersDone() {
        return layersDone;
    }

    /** The directory. */
    public Path dir() {
        return dir;
    }

    /**
     * Records that layer {@code l} is finished: its quantized linears ({@code block}'s, in
     * {@link LlamaWeights#LINEAR_NAMES} order) and the next layer's inputs. Then removes the previous inputs.
     */
    void save(int l, List<Value> linears, LayerInputs nextInputs) throws IOException {
        if (l != layersDone) {
            throw new IllegalStateException("layer " + l + " saved after " + layersDone + " finished layers");
        }
        Path layerDir = dir.resolve("layer-" + l);
        Files.createDirectories(layerDir);
        SafetensorsWriter w = new SafetensorsWriter();
        for (int j = 0; j < linears.size(); j++) {
            String name = LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j));
            Tensor t = linears.get(j).data();
            if (!PackedCheckpoint.put(w, name, t)) {
                w.put(name, DType.F64, t);
            }
        }
        w.write(layerDir.resolve(CheckpointReader.SINGLE));
        DType dtype = nextInputs.store() == ActivationStore.F32 ? DType.F32 : DType.F64;
        SafetensorsWriter in = new SafetensorsWriter();
        for (int n = 0; n < nextInputs.size(); n++) {
            int index = n; // each input widened (F32) only when the writer reaches it
            in.put("input." + n, dtype, nextInputs.shape(n), () -> nextInputs.get(index).data());
        }
        in.write(inputsFile(l + 1));
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.addProperty("layers_done", l + 1);
        JsonObject f = new JsonObject();
        fingerprint.forEach(f::addProperty);
        o.add("fingerprint", f);
        AtomicFiles.writeString(dir.resolve(STATE), new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
        layersDone = l + 1;
        Files.deleteIfExists(inputsFile(l));
    }

    /** Layer {@code l}'s saved quantized linears, in {@link LlamaWeights#LINEAR_NAMES} order, with their shapes {@code shapes}. */
    List<Tensor> layer(int l, List<Shape> shapes) throws IOException {
        if (l >= layersDone) {
            throw new IllegalStateException("layer " + l + " is not saved (" + layersDone + " finished)");
        }
        LlamaWeights.StoredForm packed = PackedCheckpoint.reader(config, true);
        try (CheckpointReader r = CheckpointReader.open(dir.resolve("layer-" + l))) {
            List<Tensor> out = new java.util.ArrayList<>();
            for (int j = 0; j < shapes.size(); j++) {
                String name = LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j));
                Tensor t = packed.read(r, name, shapes.get(j));
                if (t == null) {
                    if (!r.contains(name)) {
                        throw new FormatException(r.dir(), "tensor '" + name + "' is missing from the saved layer " + l);
                    }
                    t = r.read(name);
                }
                t.shape().requireEqual(r.dir() + ": tensor '" + name + "'", shapes.get(j));
                out.add(t);
            }
            return out;
        }
    }

    /** The saved inputs of the first layer not finished, held as {@code store} says. */
    LayerInputs inputs(ActivationStore store) throws IOException {
        Path file = inputsFile(layersDone);
        LayerInputs inputs = new LayerInputs(store);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            int n = Integer.parseInt(fingerprint.get("calibration_sequences"));
            for (int i = 0; i < n; i++) {
                if (!r.contains("input." + i)) {
                    throw new FormatException(file, "tensor 'input." + i + "' is missing (" + n + " calibration"
                            + " sequences)");
                }
                inputs.add(Value.constant(r.readFinite("input." + i)));
            }
        }
        return inputs;
    }

    private Path inputsFile(int layer) {
        return dir.resolve("inputs-" + layer + ".safetensors");
    }

    /**
     * The model's part of a fingerprint: SHA-256 of its config.json and of every safetensors header (names, dtypes,
     * shapes and offsets), and the files' sizes; a changed or different model then refuses the saved state.
     */
    public static Map<String, String> modelFingerprint(Path modelDir) throws IOException {
        Map<String, String> fp = new LinkedHashMap<>();
        fp.put("model_config_sha256", sha256(Files.readAllBytes(modelDir.resolve("config.json"))));
        MessageDigest d = digest();
        try (var files = Files.list(modelDir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList()) {
                d.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                d.update(ByteBuffer.allocate(8).putLong(Files.size(f)).array());
                try (SafetensorsReader r = SafetensorsReader.open(f)) {
                    for (String name : r.names()) {
                        d.update(r.entry(name).toString().getBytes(StandardCharsets.UTF_8));
                    }
                }
            }
        }
        fp.put("model_headers_sha256", HexFormat.of().formatHex(d.digest()));
        return fp;
    }

    /** SHA-256 over the sequences' lengths and token ids, in order. */
    static String tokensSha256(List<int[]> calib) {
        MessageDigest d = digest();
        ByteBuffer b = ByteBuffer.allocate(4);
        for (int[] seq : calib) {
            d.update(b.clear().putInt(seq.length).array());
            for (int t : seq) {
                d.update(b.clear().putInt(t).array());
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }
}

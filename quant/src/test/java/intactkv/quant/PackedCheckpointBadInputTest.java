package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A packed checkpoint whose codes, scales or shapes are wrong is refused when it is loaded, with one
 * message naming the directory, the tensor and the field, before any code is used.
 */
class PackedCheckpointBadInputTest {
    /** d 20 and d_ff 30: 3-bit codes of q_proj (400 of them) end inside a word, so there are padding bits. */
    static final LlamaConfig C = new LlamaConfig(20, 30, 2, 2, 1, 1e-5, 10000, 20, 32, false, 1, 2);
    static final String Q = "model.layers.0.self_attn.q_proj";

    @TempDir
    Path tmp;
    Path dir;
    LlamaWeights fp;

    @BeforeEach
    void write() throws IOException {
        fp = LlamaWeights.random(C, 5, 0.4, false, false);
        QuantConfig config = new QuantConfig(Method.RTN, WeightQuantizer.Spec.asym(3, 10), QuantConfig.OFF,
                QuantConfig.OFF, 0);
        dir = tmp.resolve("q");
        QuantizedModel.quantize(fp, config, null, ModelQuantizer.Progress.NONE).save(dir, DType.F64);
        QuantizedModel.load(dir, fp, null, null); // as written, it loads
    }

    /** Rewrites model.safetensors with every tensor as it was, except what {@code change} puts instead. */
    private void rewrite(String replaced, Consumer<SafetensorsWriter> change) throws IOException {
        CheckpointRewrite.rewrite(dir, replaced, change);
    }

    private String refusal() {
        FormatException e = assertThrows(FormatException.class, () -> QuantizedModel.load(dir, fp, null, null));
        String prefix = dir + ": ";
        assertEquals(prefix, e.getMessage().substring(0, prefix.length()), e.getMessage());
        return e.getMessage().substring(prefix.length());
    }

    private double[] scales() throws IOException {
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            return r.read(Q + ".scales").data();
        }
    }

    @Test
    void nanOrZeroScalesAreRefused() throws IOException {
        double[] s = scales();
        s[3] = Double.NaN;
        rewrite(Q + ".scales", w -> w.put(Q + ".scales", DType.F64, Tensor.wrap(s, 20, 2)));
        assertEquals("tensor '" + Q + ".scales' element 3 is NaN (a scale must be finite and nonzero); re-run quantize",
                refusal());
        s[3] = 0.0;
        rewrite(Q + ".scales", w -> w.put(Q + ".scales", DType.F64, Tensor.wrap(s, 20, 2)));
        assertEquals("tensor '" + Q + ".scales' element 3 is 0.0 (a scale must be finite and nonzero); re-run quantize",
                refusal());
    }

    @Test
    void aConfigThatDisagreesWithTheTensorsIsRefused() throws IOException {
        Path cfg = dir.resolve(QuantizedModel.CONFIG_FILE);
        String json = Files.readString(cfg);
        Files.writeString(cfg, json.replace("\"group_size\": 10", "\"group_size\": 5"));
        assertEquals("tensor '" + Q + ".scales' has shape (20, 2), but quant_config.json field 'group_size' 5 for 20"
                + " columns needs (20, 4)", refusal());
        Files.writeString(cfg, json.replace("\"group_size\": 10", "\"group_size\": 3"));
        assertEquals("quant_config.json field 'group_size' 3 does not divide the 20 columns of weight '" + Q + "'",
                refusal());
        Files.writeString(cfg, json.replace("\"wbits\": 3", "\"wbits\": 4"));
        assertEquals("tensor '" + Q + ".qparams' holds 3-bit codes, but quant_config.json field 'wbits' says 4-bit"
                + " weights", refusal());
        Files.writeString(cfg, json.replace("\"weight_format\": \"packed\"", "\"other\": 1"));
        assertEquals("tensor '" + Q + ".qcodes' holds packed codes, but quant_config.json has no \"weight_format\":"
                + " \"packed\"; re-run quantize", refusal());
    }

    @Test
    void codesAndGroupsOutOfRangeAreRefused() throws IOException {
        long[] words;
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            words = r.readLongs(Q + ".qcodes");
        }
        assertEquals(38, words.length, "400 codes of 3 bits: 37.5 words");
        long[] bad = words.clone();
        bad[37] |= 1L << 20; // past the last code
        rewrite(Q + ".qcodes", w -> w.putLongs(Q + ".qcodes", DType.I32, bad, Shape.of(38)));
        assertEquals("tensor '" + Q + ".qcodes' has bits set after its last 3-bit code (written with another bit"
                + " width?); re-run quantize", refusal());
        rewrite(Q + ".qcodes", w -> w.putLongs(Q + ".qcodes", DType.I32, new long[37], Shape.of(37)));
        assertEquals("tensor '" + Q + ".qcodes' is I32 of shape (37,), but 20 x 20 codes of 3 bits need I32 of shape"
                + " (38,)", refusal());
        rewrite(Q + ".qcodes", w -> w.putLongs(Q + ".qcodes", DType.I32, words, Shape.of(38)));
        long[] g = new long[20];
        g[7] = 2;
        rewrite(Q + ".g_idx", w -> w.putLongs(Q + ".g_idx", DType.I32, g, Shape.of(20)));
        assertEquals("tensor '" + Q + ".g_idx' element 7 is group 2, outside [0, 2) for group_size 10 and 20 columns",
                refusal());
        rewrite(Q + ".g_idx", w -> w.putLongs(Q + ".g_idx", DType.I32, new long[20], Shape.of(20)));
        assertEquals("tensor '" + Q + ".g_idx' puts 20 columns in group 0, but quant_config.json field 'group_size'"
                + " is 10", refusal());
        rewrite(Q + ".g_idx", w -> { });
        assertEquals("packed weight '" + Q + ".qcodes' has no tensor '" + Q + ".g_idx' beside it; re-run quantize",
                refusal());
    }
}

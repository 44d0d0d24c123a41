package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import intactkv.model.LlamaWeights;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A GPTQ or AWQ checkpoint whose settings or packed tensors are wrong is refused when it is loaded, with one
 * message naming the file, the tensor or field, and the value, before any code is used.
 */
class HubCheckpointBadInputTest {
    static final String K = "model.layers.1.self_attn.k_proj";

    @TempDir
    Path tmp;

    /** A copy of fixture {@code name} that a test may change. */
    private Path copy(String name) throws Exception {
        Path from = AutoQuantOracleTest.fixture(name);
        Path to = tmp.resolve(name);
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    /** Changes config.json's quantization_config with {@code change}. */
    private static void config(Path dir, Consumer<JsonObject> change) throws IOException {
        Path f = dir.resolve("config.json");
        JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        change.accept(o.getAsJsonObject("quantization_config"));
        Files.writeString(f, o.toString());
    }

    /** Rewrites model.safetensors with tensor {@code replaced} as {@code change} puts it. */
    private static void rewrite(Path dir, String replaced, Consumer<SafetensorsWriter> change) throws IOException {
        CheckpointRewrite.rewrite(dir, replaced, change);
    }

    private void refused(Path dir, String name, String... parts) throws Exception {
        LlamaWeights fp = AutoQuantOracleTest.fp(name);
        IOException e = assertThrows(IOException.class, () -> QuantizedModel.load(dir, fp, null, null));
        assertTrue(e instanceof FormatException, e.toString());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
        }
    }

    @Test
    void qweightShapeDisagreeingWithBitsIsRefusedNamingTensorAndField() throws Exception {
        Path dir = copy("gptq_b3_gqa_act");
        config(dir, q -> q.addProperty("bits", 4));
        refused(dir, "gptq_b3_gqa_act", "model.layers.0.self_attn.q_proj.qweight", "bits 4", "(6, 64)", "(8, 64)");
    }

    @Test
    void qzerosShapeDisagreeingWithGroupIsRefused() throws Exception {
        Path dir = copy("gptq_b4_gqa");
        config(dir, q -> q.addProperty("group_size", 16));
        refused(dir, "gptq_b4_gqa", "qzeros", "group_size 16", "(2, 8)", "(4, 8)");
    }

    @Test
    void gIdxOutsideTheGroupsIsRefused() throws Exception {
        Path dir = copy("gptq_b3_gqa_act");
        long[] gIdx;
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            gIdx = r.readLongs(K + ".g_idx");
        }
        gIdx[5] = 2; // 64 inputs in groups of 32: groups 0 and 1
        rewrite(dir, K + ".g_idx", w -> w.putLongs(K + ".g_idx", intactkv.model.io.DType.I32, gIdx,
                intactkv.tensor.Shape.of(gIdx.length)));
        refused(dir, "gptq_b3_gqa_act", K + ".g_idx", "element 5", "group 2", "outside [0, 2)");
    }

    @Test
    void nanScaleIsRefused() throws Exception {
        Path dir = copy("awq_b4_gqa");
        double[] s;
        intactkv.tensor.Shape shape;
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            s = r.read(K + ".scales").data();
            shape = r.entry(K + ".scales").shape();
        }
        s[33] = Double.NaN;
        rewrite(dir, K + ".scales", w -> w.put(K + ".scales", intactkv.model.io.DType.F16,
                intactkv.tensor.Tensor.wrap(s, shape)));
        refused(dir, "awq_b4_gqa", K + ".scales", "element (1, 1)", "NaN");
    }

    @Test
    void unknownMethodBitsFiveAndOtherLayoutsAreRefusedByField() throws Exception {
        Path a = copy("gptq_b4_gqa");
        config(a, q -> q.addProperty("quant_method", "hqq"));
        refused(a, "gptq_b4_gqa", "config.json", "quantization_config.quant_method", "'hqq'");
        Path b = copy("gptq_b3_mha");
        config(b, q -> q.addProperty("bits", 5));
        refused(b, "gptq_b3_mha", "config.json", "quantization_config.bits", "5", "2, 3, 4 or 8");
        Path c = copy("gptq_b8_mha_act");
        config(c, q -> q.addProperty("checkpoint_format", "marlin"));
        refused(c, "gptq_b8_mha_act", "quantization_config.checkpoint_format", "'marlin'");
        Path d = copy("awq_b4_mha");
        config(d, q -> q.addProperty("version", "gemv"));
        refused(d, "awq_b4_mha", "quantization_config.version", "'gemv'", "gemm");
        Path e = copy("awq_b4_gqa");
        config(e, q -> q.addProperty("bits", 3));
        refused(e, "awq_b4_gqa", "quantization_config.bits", "4-bit");
    }

    /** quantize_config.json alone (AutoGPTQ before it wrote quantization_config into config.json) is read too. */
    @Test
    void quantizeConfigJsonAloneIsReadAndCheckedToo() throws Exception {
        Path dir = copy("gptq_b4_gqa");
        Path f = dir.resolve("config.json");
        JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        o.remove("quantization_config");
        Files.writeString(f, o.toString());
        QuantizedModel.load(dir, AutoQuantOracleTest.fp("gptq_b4_gqa"), null, null); // loads as it is
        Path g = dir.resolve(HubQuantConfig.GPTQ_FILE);
        JsonObject q = JsonParser.parseString(Files.readString(g)).getAsJsonObject();
        q.addProperty("bits", 6);
        Files.writeString(g, q.toString());
        refused(dir, "gptq_b4_gqa", HubQuantConfig.GPTQ_FILE, "field 'bits'", "6");
    }

    /** The full-precision --model refuses a GPTQ checkpoint and says where it goes. */
    @Test
    void aGptqCheckpointIsNotAFullPrecisionModel() throws Exception {
        Path dir = copy("gptq_b4_gqa");
        FormatException e = assertThrows(FormatException.class, () -> LlamaWeights.load(dir, false));
        assertTrue(e.getMessage().contains("quantization_config (gptq)") && e.getMessage().contains("--quantized"),
                e.getMessage());
    }

    /**
     * checkpoint_format gptq_v2 reads the stored zeros as they are, v1 adds one: the same files read as v2 give
     * every weight one scale step more, s[g_idx[i], o] * (q - (z - 1)) = W + s, exact in double.
     */
    @Test
    void gptqV2ReadsTheZerosWithoutTheOffset() throws Exception {
        Path dir = copy("gptq_b4_gqa");
        config(dir, q -> q.addProperty("checkpoint_format", "gptq_v2"));
        LlamaWeights fp = AutoQuantOracleTest.fp("gptq_b4_gqa");
        QuantizedModel v1 = QuantizedModel.load(AutoQuantOracleTest.fixture("gptq_b4_gqa"), fp, null, null);
        QuantizedModel v2 = QuantizedModel.load(dir, fp, null, null);
        QuantCodes c1 = (QuantCodes) v1.model().weights().block(1).linears().get(1).data().storage();
        double[] w1 = v1.model().weights().block(1).linears().get(1).data().data();
        double[] w2 = v2.model().weights().block(1).linears().get(1).data().data();
        int checked = 0;
        for (int i = 0; i < w1.length; i++) {
            int r = i / c1.cols();
            int k = c1.groupOf()[i % c1.cols()];
            if (c1.zeros()[r * c1.groups() + k] != 0) { // a v1 zero of 0 was stored as 15, which v2 reads as 15
                org.junit.jupiter.api.Assertions.assertEquals(w1[i] + c1.scales()[r * c1.groups() + k], w2[i], "element " + i);
                checked++;
            }
        }
        assertTrue(checked > w1.length / 2, checked + " of " + w1.length);
    }
}

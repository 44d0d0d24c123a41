package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.CheckpointReader;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GPTQ (AutoGPTQ) and AWQ (AutoAWQ GEMM) checkpoints written by {@code tools/oracle/autoquant_fixture.py}: packed
 * as the libraries' pack functions do, dequantized by their torch unpacking paths in float64, and run by an
 * independent float64 LLaMA forward. Reading gives those weights bit for bit (the same product of an integer
 * and a float16 scale, exact in double on both sides) and those logits to 1e-9 relative to the largest (both
 * compute in double; summation order and libm differ at about 1e-15 per operation over a few hundred
 * operations); writing the codes read gives the fixture's packed integers.
 */
class AutoQuantOracleTest {
    static final double REL = 1e-9;
    static final String[] CASES = {"gptq_b2_mha_act", "gptq_b3_gqa_act", "gptq_b3_mha", "gptq_b4_gqa",
        "gptq_b8_mha_act", "awq_b4_gqa", "awq_b4_mha"};

    @TempDir
    Path tmp;

    static Path fixture(String name) throws Exception {
        return Path.of(AutoQuantOracleTest.class.getResource("/oracle/autoquant/" + name + "/config.json").toURI())
                .getParent();
    }

    static Path expected(String name) throws Exception {
        return fixture(name).resolveSibling(name + ".expected.safetensors");
    }

    static LlamaWeights fp(String name) throws Exception {
        return LlamaWeights.load(fixture(name.contains("gqa") ? "fp_gqa" : "fp_mha"), false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gptq_b2_mha_act", "gptq_b3_gqa_act", "gptq_b3_mha", "gptq_b4_gqa", "gptq_b8_mha_act",
        "awq_b4_gqa", "awq_b4_mha"})
    void weightsBitForBitAndLogitsMatchTorch(String name) throws Exception {
        QuantizedModel q = QuantizedModel.load(fixture(name), fp(name), null, null);
        assertEquals(name.startsWith("gptq") ? Method.GPTQ : Method.AWQ, q.config().method());
        LlamaWeights w = q.model().weights();
        try (SafetensorsReader exp = SafetensorsReader.open(expected(name)); GradMode.Scope s = GradMode.noGrad()) {
            for (int l = 0; l < w.blocks().size(); l++) {
                for (int j = 0; j < LlamaWeights.LINEAR_NAMES.size(); j++) {
                    String n = LlamaWeights.blockName(l, LlamaWeights.LINEAR_NAMES.get(j));
                    Tensor t = w.block(l).linears().get(j).data();
                    assertInstanceOf(QuantCodes.class, t.storage(), n + " kept as codes");
                    assertArrayEquals(exp.read(n).data(), t.data(), n); // exact: no tolerance
                }
            }
            int[] ids = Arrays.stream(exp.readLongs("input_ids")).mapToInt(Math::toIntExact).toArray();
            double[] want = exp.read("logits").data();
            double[] all = q.model().forward(ids, null, LlamaModel.Options.LOGITS).logits().data().data();
            double[] got = Arrays.copyOfRange(all, all.length - want.length, all.length);
            double scale = Arrays.stream(want).map(Math::abs).max().orElse(0);
            double worst = 0;
            for (int i = 0; i < want.length; i++) {
                worst = Math.max(worst, Math.abs(want[i] - got[i]));
            }
            assertTrue(worst <= REL * scale, name + ": max |java - torch| = " + worst + " vs scale " + scale);
        }
    }

    /** The writer, given the codes and (float16) scales read, produces the fixture's packed integers and scales. */
    @ParameterizedTest
    @ValueSource(strings = {"gptq_b2_mha_act", "gptq_b3_gqa_act", "gptq_b3_mha", "gptq_b4_gqa", "gptq_b8_mha_act",
        "awq_b4_gqa", "awq_b4_mha"})
    void writerReproducesTheFixturesPackedIntegers(String name) throws Exception {
        HubQuantConfig hub = HubQuantConfig.find(fixture(name));
        Path out = tmp.resolve("w.safetensors");
        String p = "model.layers.1.self_attn.k_proj";
        String down = "model.layers.0.mlp.down_proj";
        SafetensorsWriter w = new SafetensorsWriter();
        try (CheckpointReader r = CheckpointReader.open(fixture(name))) {
            for (String layer : new String[] {p, down}) {
                int out0 = r.entry(layer + ".scales").shape().dim(1);
                int in = hub.format().gptq() ? r.entry(layer + ".g_idx").shape().dim(0)
                        : r.entry(layer + ".qweight").shape().dim(0);
                QuantCodes q = hub.format().gptq() ? AutoGptqFormat.read(r, layer, out0, in, hub)
                        : AutoAwqFormat.read(r, layer, out0, in, hub);
                double[] worst = new double[2];
                double[] half = HubCheckpoint.halfScales(q, layer, worst);
                assertArrayEquals(q.scales(), half, "float16 scales stay as they are");
                assertEquals(0, worst[0]);
                if (hub.format().gptq()) {
                    AutoGptqFormat.put(w, layer, q, half, hub.format());
                } else {
                    AutoAwqFormat.put(w, layer, q, half);
                }
            }
            w.write(out);
            try (SafetensorsReader written = SafetensorsReader.open(out)) {
                for (String layer : new String[] {p, down}) {
                    for (String part : hub.format().gptq() ? AutoGptqFormat.PARTS : AutoAwqFormat.PARTS) {
                        String t = layer + part;
                        assertEquals(r.entry(t).shape(), written.entry(t).shape(), t);
                        assertEquals(r.entry(t).dtype(), written.entry(t).dtype(), t);
                        if (r.entry(t).dtype().isInteger()) {
                            assertArrayEquals(r.readLongs(t), written.readLongs(t), t);
                        } else {
                            assertArrayEquals(r.read(t).data(), written.read(t).data(), t);
                        }
                    }
                }
            }
        }
    }

    /** GPTQ quantizes the original weights: the twin is the full-precision model; AutoAWQ's folded basis has none. */
    @Test
    void gptqTwinIsTheOriginalModelAndAwqWithoutScalesRefusesIt() throws Exception {
        QuantizedModel g = QuantizedModel.load(fixture("gptq_b4_gqa"), fp("gptq_b4_gqa"), null, null);
        assertEquals(new Basis.Original(), g.basis());
        assertTrue(g.hasTwin());
        QuantizedModel a = QuantizedModel.load(fixture("awq_b4_gqa"), fp("awq_b4_gqa"), null, null);
        assertEquals(new Basis.AwqFolded(), a.basis());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, a::twin);
        assertTrue(e.getMessage().contains(Basis.AwqScaled.FILE), e.getMessage());
    }

    /** The configuration is read without loading the weights, as the commands plan before model work. */
    @Test
    void configIsReadFromTheHubFields() throws Exception {
        QuantConfig g = QuantizedModel.readConfig(fixture("gptq_b3_gqa_act"));
        assertEquals(Method.GPTQ, g.method());
        assertEquals(new WeightQuantizer.Spec(3, 32, false), g.weight());
        QuantConfig a = QuantizedModel.readConfig(fixture("awq_b4_mha"));
        assertEquals(Method.AWQ, a.method());
        assertEquals(new WeightQuantizer.Spec(4, 32, false), a.weight());
    }
}

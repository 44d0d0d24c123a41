package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.JsonFile;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quantized here, written in AutoGPTQ's or AutoAWQ's layout, read back: every code, zero and group index is the
 * same, every scale is the quantizer's rounded to float16, and the reported largest weight change is the one
 * the written model really has.
 */
class HubCheckpointRoundTripTest {
    /** d 64, d_ff 96, 4 heads, 2 KV heads: every dimension a multiple of 32, so every bit width packs into words. */
    static final LlamaConfig C = new LlamaConfig(64, 96, 4, 2, 2, 1e-5, 10000, 32, 64, false, 1, 2);

    @TempDir
    Path tmp;

    static LlamaWeights fp() {
        return LlamaWeights.random(C, 3, 0.2, true, false);
    }

    private static QuantConfig config(Method m, int bits, int group, boolean sym) {
        return new QuantConfig(m, new WeightQuantizer.Spec(bits, group, sym), QuantConfig.OFF, QuantConfig.OFF, 0);
    }

    /** Writes {@code q}, reads it back, and checks codes, zeros, groups, float16 scales and the report. */
    private QuantizedModel roundTrip(QuantizedModel q, HubCheckpoint.Target target, LlamaWeights fp) throws Exception {
        Path dir = tmp.resolve(target.id() + q.config().weight().bits());
        HubCheckpoint.WriteReport report = HubCheckpoint.save(q.model().weights(), q.config(), q.basis(), target, dir,
                DType.F64);
        assertEquals(2 * 7, report.linears());
        QuantizedModel back = QuantizedModel.load(dir, fp, null, null);
        double worst = 0;
        for (int l = 0; l < C.numHiddenLayers(); l++) {
            for (int j = 0; j < 7; j++) {
                Tensor a = q.model().weights().block(l).linears().get(j).data();
                Tensor b = back.model().weights().block(l).linears().get(j).data();
                QuantCodes qa = (QuantCodes) a.storage();
                QuantCodes qb = assertInstanceOf(QuantCodes.class, b.storage());
                for (int i = 0; i < qa.size(); i++) {
                    assertEquals(qa.offset(i), qb.offset(i), "code - qmin of element " + i);
                }
                assertArrayEquals(qa.groupOf(), qb.groupOf());
                for (int i = 0; i < qa.scales().length; i++) {
                    assertEquals(qa.zeros()[i] - qa.qmin(), qb.zeros()[i] - qb.qmin(), "zero - qmin " + i);
                    assertEquals(HalfFloat.fromFp16Bits(HalfFloat.toFp16Bits(qa.scales()[i])), qb.scales()[i]);
                }
                double[] da = a.data();
                double[] db = b.data();
                for (int i = 0; i < da.length; i++) {
                    worst = Math.max(worst, Math.abs(da[i] - db[i]));
                }
            }
        }
        assertTrue(worst > 0, "float16 scales move some weight");
        assertEquals(worst, report.maxAbsChange(), 0, "the report gives the written model's largest change");
        assertTrue(report.maxRelChange() > 0 && report.maxRelChange() <= 0x1p-11, "float16 rounding: at most 2^-11 relative");
        return back;
    }

    @Test
    void rtnAsymmetricAtEveryGptqWidth() throws Exception {
        LlamaWeights fp = fp();
        for (int bits : new int[] {2, 3, 4, 8}) {
            QuantizedModel q = QuantizedModel.quantize(fp, config(Method.RTN, bits, 32, false), null,
                    ModelQuantizer.Progress.NONE);
            QuantizedModel back = roundTrip(q, HubCheckpoint.Target.AUTOGPTQ, fp);
            assertEquals(Method.GPTQ, back.config().method(), "AutoGPTQ's layout is read as GPTQ");
        }
    }

    /** Symmetric RTN codes start at -2^(b-1): written as code - qmin with zero z - qmin, the same differences. */
    @Test
    void rtnSymmetricPerChannel() throws Exception {
        LlamaWeights fp = fp();
        QuantizedModel q = QuantizedModel.quantize(fp, config(Method.RTN, 4, -1, true), null, ModelQuantizer.Progress.NONE);
        roundTrip(q, HubCheckpoint.Target.AUTOGPTQ, fp);
    }

    @Test
    void gptqWithActOrderWritesGIdxAndDescAct() throws Exception {
        LlamaWeights fp = fp();
        QuantizedModel q = QuantizedModel.quantize(fp, config(Method.GPTQ, 3, 32, false), AwqTest.calib(C, 3, 24, 9),
                ModelQuantizer.Progress.NONE);
        QuantCodes first = (QuantCodes) q.model().weights().block(0).linears().get(0).data().storage();
        assertFalse(AutoGptqFormat.consecutive(first), "GPTQ's act-order groups are not consecutive");
        roundTrip(q, HubCheckpoint.Target.AUTOGPTQ, fp);
        var o = JsonFile.read(tmp.resolve("autogptq3").resolve(HubQuantConfig.GPTQ_FILE));
        assertTrue(o.bool("desc_act", null));
        assertEquals("gptq", o.string("checkpoint_format", null));
        assertTrue(JsonFile.read(tmp.resolve("autogptq3").resolve("config.json")).has("quantization_config"));
    }

    /** AWQ's scales are written beside the GEMM layout, so the read model has its twin in the scaled basis. */
    @Test
    void awqKeepsItsScaledBasis() throws Exception {
        LlamaWeights fp = fp();
        QuantizedModel q = QuantizedModel.quantize(fp, config(Method.AWQ, 4, 32, false), AwqTest.calib(C, 3, 24, 9),
                ModelQuantizer.Progress.NONE);
        QuantizedModel back = roundTrip(q, HubCheckpoint.Target.AUTOAWQ, fp);
        assertInstanceOf(Basis.AwqScaled.class, back.basis());
        assertTrue(back.hasTwin());
        // the twin is AWQ's scaled full-precision model, the same as the quantizer's
        Tensor a = q.twin().weights().block(1).linears().get(2).data();
        Tensor b = back.twin().weights().block(1).linears().get(2).data();
        assertArrayEquals(a.data(), b.data());
        assertTrue(Files.isRegularFile(tmp.resolve("autoawq4").resolve(Basis.AwqScaled.FILE)));
    }

    @Test
    void combinationsTheLayoutsCannotHoldAreRefusedByFlag() {
        List<Object[]> refused = List.of(
                new Object[] {HubCheckpoint.Target.AUTOGPTQ, config(Method.AWQ, 4, 32, false), "--format autoawq"},
                new Object[] {HubCheckpoint.Target.AUTOGPTQ, config(Method.RTN, 5, 32, false), "--wbits 2, 3, 4 or 8"},
                new Object[] {HubCheckpoint.Target.AUTOGPTQ, config(Method.OMNIQUANT, 4, 32, false), "--method rtn or gptq"},
                new Object[] {HubCheckpoint.Target.AUTOAWQ, config(Method.AWQ, 3, 32, false), "--wbits 4"},
                new Object[] {HubCheckpoint.Target.AUTOAWQ, config(Method.GPTQ, 4, 32, false), "--method awq"},
                new Object[] {HubCheckpoint.Target.AUTOAWQ, config(Method.AWQ, 4, -1, false), "--group > 0"});
        for (Object[] r : refused) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> HubCheckpoint.checkWritable((HubCheckpoint.Target) r[0], (QuantConfig) r[1]));
            assertTrue(e.getMessage().contains((String) r[2]), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> HubCheckpoint.Target.parse("gguf"));
        assertEquals(null, HubCheckpoint.Target.parse("packed"));
    }

    /** Dimensions that 3-bit codes do not fill whole words with are refused by weight name, and nothing is read back. */
    @Test
    void dimensionsThatDoNotPackAreRefusedByWeight() {
        LlamaConfig odd = new LlamaConfig(40, 48, 4, 4, 1, 1e-5, 10000, 32, 64, false, 1, 2);
        LlamaWeights fp = LlamaWeights.random(odd, 4, 0.2, false, false);
        QuantizedModel q = QuantizedModel.quantize(fp, config(Method.RTN, 3, 8, false), null, ModelQuantizer.Progress.NONE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HubCheckpoint.save(
                q.model().weights(), q.config(), q.basis(), HubCheckpoint.Target.AUTOGPTQ, tmp.resolve("odd"), DType.F64));
        assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj") && e.getMessage().contains("40 inputs"),
                e.getMessage());
    }

    /** AutoGPTQ's 3-bit format v1 reads a stored zero field of all ones as 8, so a zero point of 0 cannot be written. */
    @Test
    void aThreeBitZeroPointOfZeroIsRefusedNotWrittenWrong() {
        int[] offsets = new int[32 * 32];
        double[] scales = new double[32];
        double[] zeros = new double[32];
        java.util.Arrays.fill(scales, 0.5);
        for (int r = 0; r < 32; r++) {
            zeros[r] = r == 7 ? 0 : 4;
        }
        QuantCodes q = new QuantCodes(32, 32, 3, 0, 1, offsets, scales, zeros, new int[32]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AutoGptqFormat.put(
                new intactkv.model.io.SafetensorsWriter(), "model.layers.0.mlp.up_proj", q, scales,
                HubQuantConfig.Format.GPTQ));
        assertTrue(e.getMessage().contains("row 7 group 0 has zero point 0") && e.getMessage().contains("reads back as 8"),
                e.getMessage());
        // GPTQModel's v2 stores the zero itself
        AutoGptqFormat.put(new intactkv.model.io.SafetensorsWriter(), "model.layers.0.mlp.up_proj", q, scales,
                HubQuantConfig.Format.GPTQ_V2);
    }
}

package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.io.SafetensorsReader;
import intactkv.tensor.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Agreement with {@code tools/oracle/quant_fixtures.py}: RTN and the dynamic quantizers are
 * deterministic elementwise formulas and must agree exactly; GPTQ within 1e-9 relative (its
 * Cholesky factorisations and matrix products round differently in EJML and LAPACK).
 */
class TorchQuantOracleTest {
    static SafetensorsReader f;

    @BeforeAll
    static void open() throws Exception {
        f = SafetensorsReader.open(Path.of(TorchQuantOracleTest.class.getResource("/oracle/quant.safetensors").toURI()));
    }

    @AfterAll
    static void close() throws Exception {
        f.close();
    }

    @Test
    void rtnIsBitExact() throws Exception {
        Tensor w = f.read("w");
        assertArrayEquals(f.read("rtn_w3g128").data(), WeightQuantizer.quantize(w, WeightQuantizer.Spec.asym(3, 128), "w").data(), 0.0);
        assertArrayEquals(f.read("rtn_w4g32").data(), WeightQuantizer.quantize(w, WeightQuantizer.Spec.asym(4, 32), "w").data(), 0.0);
        assertArrayEquals(f.read("rtn_w4g64_sym").data(),
                WeightQuantizer.quantize(w, new WeightQuantizer.Spec(4, 64, true), "w").data(), 0.0);
        assertArrayEquals(f.read("rtn_w2_channel").data(),
                WeightQuantizer.quantize(w, WeightQuantizer.Spec.asym(2, WeightQuantizer.Spec.PER_CHANNEL), "w").data(), 0.0);
    }

    @Test
    void dynamicQuantizersAreBitExact() throws Exception {
        Tensor x = f.read("x");
        assertArrayEquals(f.read("dyn_asym4").data(), new DynamicQuantizer(4, false, 1.0, 0).apply(x).data(), 0.0);
        assertArrayEquals(f.read("dyn_asym4_clip95").data(), new DynamicQuantizer(4, false, 0.95, 0).apply(x).data(), 0.0);
        assertArrayEquals(f.read("dyn_asym8").data(), new DynamicQuantizer(8, false, 1.0, 0).apply(x).data(), 0.0);
        assertArrayEquals(f.read("dyn_sym4_clip90").data(), new DynamicQuantizer(4, true, 0.9, 0).apply(x).data(), 0.0);
        // the engine version computes the same values
        assertArrayEquals(f.read("dyn_asym4").data(),
                new DynamicQuantizer(4, false, 1.0, 0).apply(intactkv.autograd.Value.constant(x)).data().data(), 0.0);
    }

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        double worst = 0;
        for (int i = 0; i < expected.numel(); i++) {
            worst = Math.max(worst, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        assertTrue(worst <= 1e-9 * expected.maxAbs(), what + ": max |java - torch| = " + worst);
    }

    @Test
    void gptqAgreesWithReference() throws Exception {
        Tensor w = f.read("gptq_w");
        Tensor h = f.read("gptq_h");
        assertClose("w4 g128", f.read("gptq_w4g128"), Gptq.quantizeLayer(w, h, WeightQuantizer.Spec.asym(4, 128), true, "l"));
        assertClose("w3 g64", f.read("gptq_w3g64"), Gptq.quantizeLayer(w, h, WeightQuantizer.Spec.asym(3, 64), true, "l"));
        assertClose("w4 sym per channel", f.read("gptq_w4_sym_channel"),
                Gptq.quantizeLayer(w, h, new WeightQuantizer.Spec(4, -1, true), true, "l"));
    }
}

package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.autograd.GradMode;
import intactkv.model.LlamaModel;
import intactkv.model.LlamaWeights;
import intactkv.model.io.SafetensorsReader;
import intactkv.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Agreement with {@code tools/oracle/awq_oracle.py}, llm-awq's {@code run_awq} written in
 * PyTorch float64 from its definitions, on two random checkpoints: {@code mha} (h_kv = h, so
 * the v_proj -> o_proj group is searched; w3 g32; 1040 calibration tokens, so the clip search
 * samples every second token) and {@code gqa} (h_kv &lt; h, no o group; w4 g16).
 *
 * <p>Tolerance 1e-9 relative to each tensor's largest entry: both sides evaluate the same
 * formulas in double and differ only in the order of their sums (BLAS against this project's
 * GEMM, vectorised reductions against loops) and in {@code pow}, about 1e-16 relative per
 * operation and below 1e-12 after two layers. A different discrete choice (an alpha, a clip
 * step) moves a scale by percents and a clip value by 5 % of its range, 10^7 times the tolerance.
 *
 * <p>One discrete choice is not decided by the formulas but by the last bit of a quotient, here
 * and upstream alike: where a clip step clamps both extremes of a group, the clamped group spans
 * [-m, m] exactly, so {@code m / s = (2^b - 1) / 2} is a half-integer in exact arithmetic and
 * the zero point's round-half-to-even goes either way depending on the rounding of {@code s}.
 * Weights that differ in their last bit (they come out of sums taken in another order) can
 * resolve it the other way, and then another clip step can win. The oracle marks, per entry, the
 * steps that can win under either resolution ({@code clip_admissible}); a clip value must equal
 * the oracle's, or be one of those steps where the oracle marks several. The quantized model's
 * logits are then compared on the oracle's own scales and clips ({@link Awq#quantize}: apply_scale,
 * apply_clip, RTN on identical inputs, so every rounding is resolved identically).
 */
class TorchAwqOracleTest {
    static final double TOL = 1e-9;

    @ParameterizedTest
    @ValueSource(strings = {"mha", "gqa"})
    void scalesAndClipValuesAgreeWithTorch(String name) throws Exception {
        Path dir = dir(name);
        LlamaWeights fp = LlamaWeights.load(dir, false);
        try (SafetensorsReader f = SafetensorsReader.open(dir.resolve("expected.safetensors"));
             GradMode.Scope s = GradMode.noGrad()) {
            Awq.Result r = Awq.run(fp, config(f), calibration(f), ModelQuantizer.Progress.NONE);
            boolean mha = name.equals("mha");
            int nontrivial = 0;
            for (int l = 0; l < fp.config().numHiddenLayers(); l++) {
                assertClose("scale." + l + ".qkv", f.read("scale." + l + ".qkv"), Tensor.vector(r.scales().qkv().get(l)));
                assertClose("scale." + l + ".gate_up", f.read("scale." + l + ".gate_up"),
                        Tensor.vector(r.scales().gateUp().get(l)));
                assertClose("scale." + l + ".down", f.read("scale." + l + ".down"), Tensor.vector(r.scales().down().get(l)));
                if (mha) {
                    assertNotNull(r.scales().o().get(l), "v_proj -> o_proj group searched without GQA");
                    assertClose("scale." + l + ".o", f.read("scale." + l + ".o"), Tensor.vector(r.scales().o().get(l)));
                } else {
                    assertNull(r.scales().o().get(l), "no v_proj -> o_proj group under GQA");
                    assertFalse(f.contains("scale." + l + ".o"));
                }
                Map<String, Tensor> clips = r.clips().get(l);
                assertEquals(List.of("self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                        "mlp.down_proj"), List.copyOf(clips.keySet()));
                for (Map.Entry<String, Tensor> e : clips.entrySet()) {
                    String key = l + "." + e.getKey().substring(e.getKey().indexOf('.') + 1);
                    assertClipValues(key, f.read("clip." + key), f.read("clip_max_abs." + key),
                            f.read("clip_admissible." + key), e.getValue());
                }
                for (String g : mha ? List.of("qkv", "o", "gate_up", "down") : List.of("qkv", "gate_up", "down")) {
                    nontrivial += f.read("ratio." + l + "." + g).item() > 0 ? 1 : 0;
                }
            }
            // the fixture exercises the search: alpha 0 (all scales 1) was not chosen everywhere
            assertTrue(nontrivial > 0, "every searched alpha is 0 in the fixture: it tests nothing");
            // the twin from our own scales gives the oracle's twin logits
            int[] ids = toInts(f.read("test_ids"));
            assertClose("twin logits", f.read("twin_logits"), logits(r.scales().applyTo(fp), ids));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mha", "gqa"})
    void quantizedAndTwinLogitsAgreeWithTorch(String name) throws Exception {
        Path dir = dir(name);
        LlamaWeights fp = LlamaWeights.load(dir, false);
        try (SafetensorsReader f = SafetensorsReader.open(dir.resolve("expected.safetensors"));
             GradMode.Scope s = GradMode.noGrad()) {
            int layers = fp.config().numHiddenLayers();
            List<double[]> qkv = new ArrayList<>();
            List<double[]> o = new ArrayList<>();
            List<double[]> gateUp = new ArrayList<>();
            List<double[]> down = new ArrayList<>();
            List<Map<String, Tensor>> clips = new ArrayList<>();
            for (int l = 0; l < layers; l++) {
                qkv.add(f.read("scale." + l + ".qkv").data());
                o.add(f.contains("scale." + l + ".o") ? f.read("scale." + l + ".o").data() : null);
                gateUp.add(f.read("scale." + l + ".gate_up").data());
                down.add(f.read("scale." + l + ".down").data());
                Map<String, Tensor> m = new LinkedHashMap<>();
                for (String lin : List.of("self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                        "mlp.down_proj")) {
                    m.put(lin, f.read("clip." + l + "." + lin.substring(lin.indexOf('.') + 1)));
                }
                clips.add(m);
            }
            AwqScales scales = new AwqScales(qkv, o, gateUp, down);
            int[] ids = toInts(f.read("test_ids"));
            assertClose("logits", f.read("logits"), logits(Awq.quantize(fp, scales, clips, config(f).weight()), ids));
            assertClose("twin logits", f.read("twin_logits"), logits(scales.applyTo(fp), ids));
            assertClose("fp logits", f.read("fp_logits"), logits(fp, ids));
        }
    }

    private static Path dir(String name) throws Exception {
        return Path.of(TorchAwqOracleTest.class.getResource("/oracle/awq/" + name + "/config.json").toURI()).getParent();
    }

    private static QuantConfig config(SafetensorsReader f) {
        int bits = Integer.parseInt(f.metadata().get("w_bit"));
        int group = Integer.parseInt(f.metadata().get("q_group_size"));
        return new QuantConfig(Method.AWQ, WeightQuantizer.Spec.asym(bits, group), QuantConfig.OFF, QuantConfig.OFF, 0);
    }

    private static List<int[]> calibration(SafetensorsReader f) throws Exception {
        Tensor calib = f.read("calib");
        List<int[]> seqs = new ArrayList<>();
        for (int i = 0; i < calib.dim(0); i++) {
            int[] seq = new int[calib.dim(1)];
            for (int t = 0; t < seq.length; t++) {
                seq[t] = (int) calib.data()[i * seq.length + t];
            }
            seqs.add(seq);
        }
        return seqs;
    }

    /**
     * Each clip value equals the oracle's, or (where the oracle admits several steps because of a
     * rounding tie) {@code max_abs (1 - k/20)} for an admissible step k.
     */
    private static void assertClipValues(String key, Tensor expected, Tensor maxAbs, Tensor admissible, Tensor actual) {
        assertEquals(expected.shape(), actual.shape(), key + ": shape");
        double tol = TOL * expected.maxAbs();
        int steps = admissible.dim(2);
        for (int i = 0; i < expected.numel(); i++) {
            double a = actual.data()[i];
            if (Math.abs(a - expected.data()[i]) <= tol) {
                continue;
            }
            boolean ok = false;
            int several = 0;
            for (int k = 0; k < steps; k++) {
                if (admissible.data()[i * steps + k] > 0) {
                    several++;
                    ok |= Math.abs(a - maxAbs.data()[i] * (1 - k / 20.0)) <= tol;
                }
            }
            assertTrue(ok && several > 1, "clip." + key + " entry " + i + ": java " + a + ", torch " + expected.data()[i]
                    + " (max |w| " + maxAbs.data()[i] + "), and the oracle admits no other step there");
        }
    }

    private static Tensor logits(LlamaWeights w, int[] ids) {
        return new LlamaModel(w).forward(ids, null, LlamaModel.Options.LOGITS).logits().data()
                .reshape(ids.length, w.config().vocabSize());
    }

    private static int[] toInts(Tensor t) {
        int[] out = new int[t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) t.data()[i];
        }
        return out;
    }

    private static void assertClose(String what, Tensor expected, Tensor actual) {
        assertEquals(expected.shape(), actual.shape(), what + ": shape");
        double worst = 0;
        for (int i = 0; i < expected.numel(); i++) {
            worst = Math.max(worst, Math.abs(expected.data()[i] - actual.data()[i]));
        }
        assertTrue(worst <= TOL * expected.maxAbs(), what + ": max |java - torch| = " + worst + " (largest entry "
                + expected.maxAbs() + ")");
    }
}

package intactkv.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaConfig;
import intactkv.model.LlamaWeights;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link AwqScales}: apply_scale on a copy, the safetensors file and what it refuses. */
class AwqScalesTest {
    @TempDir
    Path tmp;

    /** Scales of 1 everywhere (o only without GQA). */
    static AwqScales ones(LlamaConfig c) {
        return random(c, null);
    }

    /** Scales in [0.5, 2) from {@code rng} (all 1 when null). */
    static AwqScales random(LlamaConfig c, Random rng) {
        List<double[]> qkv = new ArrayList<>();
        List<double[]> o = new ArrayList<>();
        List<double[]> gateUp = new ArrayList<>();
        List<double[]> down = new ArrayList<>();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            qkv.add(vector(c.hiddenSize(), rng));
            o.add(AwqScales.hasOGroup(c) ? vector(c.hiddenSize(), rng) : null);
            gateUp.add(vector(c.hiddenSize(), rng));
            down.add(vector(c.intermediateSize(), rng));
        }
        return new AwqScales(qkv, o, gateUp, down);
    }

    private static double[] vector(int n, Random rng) {
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = rng == null ? 1 : 0.5 * Math.pow(4, rng.nextDouble());
        }
        return s;
    }

    @Test
    void applyToScalesACopyAsLlmAwqApplyScale() {
        LlamaConfig c = AwqTest.config(4);
        LlamaWeights fp = LlamaWeights.random(c, 3, 0.3, true, false);
        double[] v0 = fp.block(0).v().data().data().clone();
        AwqScales s = random(c, new Random(4));
        LlamaWeights t = s.applyTo(fp);
        // fp unchanged
        assertArrayEquals(v0, fp.block(0).v().data().data(), 0.0);
        int d = c.hiddenSize();
        double[] q1 = s.qkv().get(1);
        double[] o1 = s.o().get(1);
        double[] gu1 = s.gateUp().get(1);
        double[] dn1 = s.down().get(1);
        LlamaWeights.Block a = fp.block(1);
        LlamaWeights.Block b = t.block(1);
        // hand-worked entries: norm / s; q, k columns * s; v columns * s_qkv then rows / s_o; o columns * s_o;
        // gate columns * s_gu; up columns * s_gu then rows / s_down; down columns * s_down
        assertEquals(a.inputNorm().data().data()[5] / q1[5], b.inputNorm().data().data()[5], 0.0);
        assertEquals(a.k().data().data()[2 * d + 7] * q1[7], b.k().data().data()[2 * d + 7], 0.0);
        assertEquals(a.v().data().data()[3 * d + 9] * q1[9] / o1[3], b.v().data().data()[3 * d + 9], 0.0);
        assertEquals(a.o().data().data()[4 * d + 6] * o1[6], b.o().data().data()[4 * d + 6], 0.0);
        assertEquals(a.postNorm().data().data()[2] / gu1[2], b.postNorm().data().data()[2], 0.0);
        assertEquals(a.gate().data().data()[10 * d + 1] * gu1[1], b.gate().data().data()[10 * d + 1], 0.0);
        assertEquals(a.up().data().data()[10 * d + 1] * gu1[1] / dn1[10], b.up().data().data()[10 * d + 1], 0.0);
        int ff = c.intermediateSize();
        assertEquals(a.down().data().data()[3 * ff + 40] * dn1[40], b.down().data().data()[3 * ff + 40], 0.0);
        // embeddings, final norm and head shared
        assertEquals(fp.embed(), t.embed());
        assertEquals(fp.lmHead(), t.lmHead());
    }

    @Test
    void applyToRefusesScalesOfAnotherShape() {
        LlamaConfig mha = AwqTest.config(4);
        LlamaConfig gqa = AwqTest.config(2);
        LlamaWeights fpGqa = LlamaWeights.random(gqa, 3, 0.3, false, false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ones(mha).applyTo(fpGqa));
        assertTrue(e.getMessage().contains("scale.0.o given, but v_proj and o_proj differ in shape"), e.getMessage());
        LlamaConfig wide = new LlamaConfig(32, 48, 4, 2, 2, 1e-5, 10000, 50, 64, false, 1, 2);
        e = assertThrows(IllegalArgumentException.class,
                () -> ones(wide).applyTo(fpGqa));
        assertTrue(e.getMessage().contains("scale.0.down has 48 channels, the model needs d_ff = 64"), e.getMessage());
        LlamaConfig deep = new LlamaConfig(32, 64, 4, 2, 3, 1e-5, 10000, 50, 64, false, 1, 2);
        e = assertThrows(IllegalArgumentException.class, () -> ones(deep).applyTo(fpGqa));
        assertTrue(e.getMessage().contains("scales for 3 layers, the model has 2"), e.getMessage());
    }

    @Test
    void recordRefusesNonPositiveScales() {
        List<double[]> ok = List.of(new double[] {1, 2});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new AwqScales(List.of(new double[] {1, 0}), Arrays.asList((double[]) null), ok, ok));
        assertTrue(e.getMessage().contains("scale.0.qkv [1] = 0.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new AwqScales(ok, Arrays.asList((double[]) null), ok, List.of(ok.get(0), ok.get(0))));
        assertTrue(e.getMessage().contains("different numbers of layers"), e.getMessage());
    }

    @Test
    void saveAndLoadRoundTripExactly() throws IOException {
        for (int hkv : new int[] {4, 2}) {
            LlamaConfig c = AwqTest.config(hkv);
            AwqScales s = random(c, new Random(hkv));
            Path f = tmp.resolve("awq_scales_" + hkv + ".safetensors");
            s.save(f);
            AwqScales back = AwqScales.load(f, c);
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                assertArrayEquals(s.qkv().get(l), back.qkv().get(l), 0.0);
                assertArrayEquals(s.gateUp().get(l), back.gateUp().get(l), 0.0);
                assertArrayEquals(s.down().get(l), back.down().get(l), 0.0);
                if (hkv == 4) {
                    assertArrayEquals(s.o().get(l), back.o().get(l), 0.0);
                } else {
                    assertNull(back.o().get(l));
                }
            }
        }
        // written through a temporary file: nothing else is left in the directory
        try (var files = Files.list(tmp)) {
            assertEquals(2, files.count());
        }
    }

    /** Writes a scales file for c with {@code edit} applied to the writer after the good tensors. */
    private Path file(String name, LlamaConfig c, String format, Consumer<java.util.Map<String, Tensor>> edit)
            throws IOException {
        java.util.Map<String, Tensor> t = new java.util.LinkedHashMap<>();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            t.put(AwqScales.tensorName(l, "qkv"), Tensor.ones(c.hiddenSize()));
            if (AwqScales.hasOGroup(c)) {
                t.put(AwqScales.tensorName(l, "o"), Tensor.ones(c.hiddenSize()));
            }
            t.put(AwqScales.tensorName(l, "gate_up"), Tensor.ones(c.hiddenSize()));
            t.put(AwqScales.tensorName(l, "down"), Tensor.ones(c.intermediateSize()));
        }
        edit.accept(t);
        SafetensorsWriter w = new SafetensorsWriter();
        if (format != null) {
            w.metadata("format", format);
        }
        t.forEach((n, v) -> w.put(n, DType.F64, v));
        Path f = tmp.resolve(name);
        w.write(f);
        return f;
    }

    private void refused(Path f, LlamaConfig c, String... parts) {
        FormatException e = assertThrows(FormatException.class, () -> AwqScales.load(f, c));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), e.getMessage());
        }
    }

    @Test
    void badFilesAreRefusedByName() throws IOException {
        LlamaConfig mha = AwqTest.config(4);
        LlamaConfig gqa = AwqTest.config(2);
        assertEquals(2, AwqScales.load(file("good.safetensors", mha, AwqScales.FORMAT, t -> { }), mha).layers());
        refused(file("noformat.safetensors", mha, null, t -> { }), mha, "not an AWQ scales file", "absent");
        refused(file("prefix.safetensors", mha, "intactkv-prefix", t -> { }), mha, "'intactkv-prefix'");
        refused(file("missing.safetensors", mha, AwqScales.FORMAT, t -> t.remove("scale.1.down")), mha,
                "no tensor 'scale.1.down'", "(64,) = (d_ff)");
        refused(file("shape.safetensors", mha, AwqScales.FORMAT, t -> t.put("scale.0.qkv", Tensor.ones(31))), mha,
                "tensor 'scale.0.qkv' has shape (31,)", "(32,) = (d)");
        refused(file("zero.safetensors", mha, AwqScales.FORMAT, t -> {
            Tensor z = Tensor.ones(32);
            z.data()[4] = 0;
            t.put("scale.1.gate_up", z);
        }), mha, "tensor 'scale.1.gate_up' element 4 is 0.0", "> 0");
        refused(file("nan.safetensors", mha, AwqScales.FORMAT, t -> {
            Tensor z = Tensor.ones(32);
            z.data()[2] = Double.NaN;
            t.put("scale.0.o", z);
        }), mha, "tensor 'scale.0.o' element 2", "NaN");
        // an o group under GQA, where llm-awq has none
        refused(file("gqa_o.safetensors", gqa, AwqScales.FORMAT, t -> t.put("scale.0.o", Tensor.ones(32))), gqa,
                "unexpected tensor 'scale.0.o'", "GQA");
        // no o group without GQA
        refused(file("mha_no_o.safetensors", mha, AwqScales.FORMAT, t -> t.remove("scale.0.o")), mha,
                "no tensor 'scale.0.o'");
        // a file for a deeper model
        refused(file("deep.safetensors", mha, AwqScales.FORMAT, t -> t.put("scale.2.qkv", Tensor.ones(32))), mha,
                "unexpected tensor 'scale.2.qkv'", "2 layers");
        // a GQA file for a model without GQA
        refused(file("gqa_for_mha.safetensors", gqa, AwqScales.FORMAT, t -> { }), mha, "no tensor 'scale.0.o'");
        // not a safetensors file at all
        Path junk = tmp.resolve("junk.safetensors");
        Files.writeString(junk, "hello");
        FormatException e = assertThrows(FormatException.class, () -> AwqScales.load(junk, mha));
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());
        assertThrows(NoSuchFileException.class, () -> AwqScales.load(tmp.resolve("absent.safetensors"), mha));
        assertFalse(Files.exists(tmp.resolve("absent.safetensors")));
    }

    @Test
    void integerTensorsAreRefused() throws IOException {
        LlamaConfig c = AwqTest.config(2);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", AwqScales.FORMAT);
        w.putLongs("scale.0.qkv", DType.I64, new long[32], intactkv.tensor.Shape.of(32));
        Path f = tmp.resolve("ints.safetensors");
        w.write(f);
        refused(f, c, "tensor 'scale.0.qkv' is I64");
    }
}

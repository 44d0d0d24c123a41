package intactkv.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.LlamaWeights;
import intactkv.tensor.Bf16Storage;
import intactkv.tensor.F16Storage;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Init;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tensor-by-tensor {@link SafetensorsWriter} (issue 27) writes exactly the bytes of the former
 * write-everything-at-once writer: checked against an independent whole-file encoder kept here (the
 * former algorithm: every tensor converted in full, then header and data concatenated) and against the
 * committed built-in model's SHA-256, written by the former writer.
 */
class SafetensorsStreamingTest {
    @TempDir
    Path tmp;

    /** The whole-file encoding of the former writer: header from all tensors, then each tensor's bytes. */
    private static byte[] encodeWhole(List<String> names, List<DType> dtypes, List<Tensor> tensors) {
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (int k = 0; k < names.size(); k++) {
            Tensor t = tensors.get(k);
            DType dt = dtypes.get(k);
            long bytes = (long) t.numel() * dt.bytes();
            StringBuilder shape = new StringBuilder();
            for (int d : t.shape().dims()) {
                shape.append(shape.length() == 0 ? "" : ",").append(d);
            }
            json.append(",\"").append(names.get(k)).append("\":{\"dtype\":\"").append(dt.name()).append("\",\"shape\":[")
                    .append(shape).append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes)
                    .append("]}");
            offset += bytes;
            double[] v = t.data();
            ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (double x : v) {
                switch (dt) {
                    case F64 -> b.putDouble(x);
                    case F32 -> b.putFloat((float) x);
                    case F16 -> b.putShort(HalfFloat.toFp16Bits(x));
                    case BF16 -> b.putShort(HalfFloat.toBf16Bits(x));
                    case I64 -> b.putLong((long) x);
                    case I32 -> b.putInt((int) x);
                }
            }
            data.writeBytes(b.array());
        }
        json.append('}');
        while ((8 + json.length()) % 8 != 0) {
            json.append(' ');
        }
        byte[] hb = json.toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length).array());
        out.writeBytes(hb);
        out.writeBytes(data.toByteArray());
        return out.toByteArray();
    }

    private static short[] bits(double[] v, boolean bf16) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            s[i] = bf16 ? HalfFloat.toBf16Bits(v[i]) : HalfFloat.toFp16Bits(v[i]);
        }
        return s;
    }

    @Test
    void writesTheBytesOfTheWholeFileEncoderForEveryDtypeAndForm() throws IOException {
        Random rng = new Random(27);
        // 300 x 1000 elements: 2.4 MB as F64, more than two 1 MiB chunks, so chunk boundaries are crossed
        Tensor big = Init.normal(rng, 1.0, 300, 1000);
        Tensor small = Init.normal(rng, 3.0, 3, 5);
        Tensor bf16 = Tensor.stored(new Bf16Storage(bits(big.data(), true)), big.shape());
        Tensor f16 = Tensor.stored(new F16Storage(bits(small.data(), false)), small.shape());
        Tensor ints = Tensor.vector(1, -2, 1L << 40, 0);
        List<String> names = new ArrayList<>(List.of("big64", "big32", "big16", "stored_bf16_as_f32", "stored_bf16",
                "stored_f16_as_f64", "supplied", "ints64", "ints32", "empty"));
        List<DType> dtypes = List.of(DType.F64, DType.F32, DType.F16, DType.F32, DType.BF16, DType.F64, DType.BF16,
                DType.I64, DType.I32, DType.F32);
        List<Tensor> tensors = List.of(big, big, big, bf16, bf16, f16, small, ints, Tensor.vector(7, -8, 9, 10),
                Tensor.zeros(0, 4));
        Path f = tmp.resolve("t.safetensors");
        new SafetensorsWriter().metadata("format", "pt")
                .put("big64", DType.F64, big).put("big32", DType.F32, big).put("big16", DType.F16, big)
                .put("stored_bf16_as_f32", DType.F32, bf16).put("stored_bf16", DType.BF16, bf16)
                .put("stored_f16_as_f64", DType.F64, f16)
                .put("supplied", DType.BF16, small.shape(), () -> small)
                .put("ints64", DType.I64, ints)
                .putLongs("ints32", DType.I32, Shape.of(4), () -> new long[] {7, -8, 9, 10})
                .put("empty", DType.F32, Tensor.zeros(0, 4))
                .write(f);
        assertArrayEquals(encodeWhole(names, dtypes, tensors), Files.readAllBytes(f));
    }

    @Test
    void suppliersRunOnlyOnWriteOnceEachInFileOrder() throws IOException {
        List<String> calls = new ArrayList<>();
        SafetensorsWriter w = new SafetensorsWriter()
                .put("a", DType.F32, Shape.of(2), () -> {
                    calls.add("a");
                    return Tensor.vector(1, 2);
                })
                .putLongs("b", DType.I32, Shape.of(1), () -> {
                    calls.add("b");
                    return new long[] {3};
                })
                .put("c", DType.F64, Shape.of(1), () -> {
                    calls.add("c");
                    return Tensor.vector(4);
                });
        assertTrue(calls.isEmpty(), "nothing is made before write");
        w.write(tmp.resolve("s.safetensors"));
        assertEquals(List.of("a", "b", "c"), calls);
        try (SafetensorsReader r = SafetensorsReader.open(tmp.resolve("s.safetensors"))) {
            assertArrayEquals(new double[] {1, 2}, r.read("a").data());
            assertArrayEquals(new long[] {3}, r.readLongs("b"));
            assertArrayEquals(new double[] {4}, r.read("c").data());
        }
    }

    @Test
    void aSuppliedValueOfAnotherShapeThanTheHeaderIsRefusedAndLeavesNoFile() throws IOException {
        Path f = tmp.resolve("bad.safetensors");
        SafetensorsWriter w = new SafetensorsWriter().put("a", DType.F32, Shape.of(3), () -> Tensor.vector(1, 2));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.write(f));
        assertEquals("tensor 'a': supplied shape (2,), header says (3,)", e.getMessage());
        SafetensorsWriter l = new SafetensorsWriter().putLongs("b", DType.I64, Shape.of(3), () -> new long[] {1});
        IllegalStateException e2 = assertThrows(IllegalStateException.class, () -> l.write(f));
        assertEquals("tensor 'b': 1 integers supplied for shape (3,)", e2.getMessage());
        assertFalse(Files.exists(f));
        try (var left = Files.list(tmp)) {
            assertEquals(0, left.count(), "no temporary file is left behind");
        }
        assertThrows(IllegalArgumentException.class,
                () -> new SafetensorsWriter().put("c", DType.I32, Shape.of(1), () -> Tensor.vector(1)));
    }

    /**
     * Saving the built-in model (loaded with its matrices kept as F32 storage) as F32 reproduces the committed
     * file, which the former writer made, byte for byte.
     */
    @Test
    void resavingTheBuiltInModelReproducesItsCommittedBytes() throws IOException, NoSuchAlgorithmException {
        Path model = Path.of("..", "examples", "default-model");
        LlamaWeights w = LlamaWeights.load(model, false);
        Path out = tmp.resolve("resaved");
        w.save(out, DType.F32);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        String got = HexFormat.of().formatHex(sha.digest(Files.readAllBytes(out.resolve("model.safetensors"))));
        assertEquals("d81f8f95955d3e8441808c603eb27f75f6652c77dd8e61f453ef5bc854fc71a9", got);
    }
}

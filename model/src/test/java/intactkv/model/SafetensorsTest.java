package intactkv.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import intactkv.model.io.DType;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.tensor.HalfFloat;
import intactkv.tensor.Init;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripsEveryDtype() throws IOException {
        Tensor x = Init.normal(new Random(1), 3, 4, 5);
        Path f = tmp.resolve("t.safetensors");
        new SafetensorsWriter().metadata("format", "pt")
                .put("f64", DType.F64, x).put("f32", DType.F32, x).put("f16", DType.F16, x).put("bf16", DType.BF16, x)
                .putLongs("i64", DType.I64, new long[] {1, -2, 1L << 40}, Shape.of(3))
                .putLongs("i32", DType.I32, new long[] {7, -8}, Shape.of(2, 1))
                .write(f);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertEquals(java.util.List.of("f64", "f32", "f16", "bf16", "i64", "i32"), r.names());
            assertEquals("pt", r.metadata().get("format"));
            assertArrayEquals(x.data(), r.read("f64").data(), 0.0);
            for (int i = 0; i < x.numel(); i++) {
                double v = x.data()[i];
                assertEquals((float) v, r.read("f32").data()[i], 0.0);
                assertEquals(HalfFloat.round(v, HalfFloat.Format.FP16), r.read("f16").data()[i], 0.0);
                assertEquals(HalfFloat.round(v, HalfFloat.Format.BF16), r.read("bf16").data()[i], 0.0);
            }
            assertArrayEquals(new long[] {1, -2, 1L << 40}, r.readLongs("i64"));
            assertEquals(Shape.of(2, 1), r.entry("i32").shape());
            assertArrayEquals(new double[] {7, -8}, r.read("i32").data(), 0.0);
            assertThrows(IllegalArgumentException.class, () -> r.readLongs("f32"));
        }
        // the header is padded so that the data starts 8-byte aligned
        long n = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8);
    }

    /** Writes the header's true length, the header and {@code dataBytes} zero bytes. */
    private Path raw(String header, int dataBytes) throws IOException {
        return raw(header, header.getBytes(StandardCharsets.UTF_8).length, dataBytes);
    }

    /** Writes an 8-byte length (possibly false), a header and {@code dataBytes} zero bytes. */
    private Path raw(String header, long declaredLength, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(h);
        Path f = tmp.resolve("bad" + System.nanoTime() + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private void assertRejected(Path f, String... fragments) {
        IOException e = assertThrows(IOException.class, () -> SafetensorsReader.open(f).close());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        for (String s : fragments) {
            assertTrue(e.getMessage().contains(s), "'" + s + "' not in: " + e.getMessage());
        }
    }

    @Test
    void badFilesAreRejectedWithFileAndTensorNamed() throws IOException {
        String ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        Path truncated = tmp.resolve("short.safetensors");
        Files.write(truncated, new byte[] {1, 2, 3});
        assertRejected(truncated, "truncated");
        assertRejected(raw(ok, 1L << 40, 8), "header length");
        assertRejected(raw(ok, -5, 8), "header length");
        assertRejected(raw(ok, 4), "'w'", "outside");
        assertRejected(raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'w'", "needs 12");
        assertRejected(raw("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'w'", "Q4");
        String overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertRejected(raw(overlap, 12), "overlap", "'a'", "'b'");
        assertRejected(raw("{not json", 0), "JSON");
    }

    @Test
    void failedWriteLeavesNoFile() throws IOException {
        Path f = tmp.resolve("never.safetensors");
        SafetensorsWriter w = new SafetensorsWriter().putLongs("i", DType.I32, new long[] {1L << 40}, Shape.of(1));
        assertThrows(ArithmeticException.class, () -> w.write(f));
        try (var files = Files.list(tmp)) {
            assertEquals(0, files.count(), "no target and no temporary file left");
        }
    }
}

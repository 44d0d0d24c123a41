package intactkv.model.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Writes GGUF bytes for the tests, field by field, so that a test can make exactly one field
 * wrong (the layout of {@link GgufFile}'s class comment). Written here from the format, not by the
 * reader under test; the committed gguf-py fixtures check that both agree with llama.cpp's writer.
 */
final class GgufBuilder {
    byte[] magic = {'G', 'G', 'U', 'F'};
    int version = 3;
    int alignment = 32;
    private final List<byte[]> kvs = new ArrayList<>();
    private final List<Object[]> tensors = new ArrayList<>(); // name, ne, type, data, offset override (Long or null)

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    static byte[] string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return le(8 + b.length).putLong(b.length).put(b).array();
    }

    /** A key-value pair with raw value bytes (the value type id first). */
    GgufBuilder raw(String key, int type, byte[] value) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(string(key));
        o.writeBytes(le(4).putInt(type).array());
        o.writeBytes(value);
        kvs.add(o.toByteArray());
        return this;
    }

    GgufBuilder str(String key, String v) {
        return raw(key, 8, string(v));
    }

    GgufBuilder u32(String key, int v) {
        return raw(key, 4, le(4).putInt(v).array());
    }

    GgufBuilder f32(String key, float v) {
        return raw(key, 6, le(4).putFloat(v).array());
    }

    GgufBuilder bool(String key, boolean v) {
        return raw(key, 7, new byte[] {(byte) (v ? 1 : 0)});
    }

    GgufBuilder strings(String key, String... v) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(le(12).putInt(8).putLong(v.length).array());
        for (String s : v) {
            o.writeBytes(string(s));
        }
        return raw(key, 9, o.toByteArray());
    }

    GgufBuilder floats(String key, float... v) {
        ByteBuffer b = le(12 + 4 * v.length).putInt(6).putLong(v.length);
        for (float x : v) {
            b.putFloat(x);
        }
        return raw(key, 9, b.array());
    }

    GgufBuilder ints(String key, int... v) {
        ByteBuffer b = le(12 + 4 * v.length).putInt(5).putLong(v.length);
        for (int x : v) {
            b.putInt(x);
        }
        return raw(key, 9, b.array());
    }

    /** A tensor of ggml type id {@code type} with dimensions {@code ne} (ggml order) and its bytes. */
    GgufBuilder tensor(String name, long[] ne, int type, byte[] data) {
        tensors.add(new Object[] {name, ne, type, data, null});
        return this;
    }

    /** An F32 tensor of HF shape (rows, cols) (ne = [cols, rows]) with seeded random values. */
    GgufBuilder f32Tensor(String name, Random rng, int... shape) {
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        ByteBuffer b = le(4 * n);
        for (int i = 0; i < n; i++) {
            b.putFloat((float) (rng.nextGaussian() * 0.1 + (shape.length == 1 ? 1 : 0)));
        }
        long[] ne = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            ne[i] = shape[shape.length - 1 - i];
        }
        return tensor(name, ne, 0, b.array());
    }

    /**
     * A matrix of HF shape (rows, cols) with seeded random values rounded to F16 ({@code type} 1) or BF16 (30):
     * written in that type, or, {@code asF32}, as F32 holding the same values widened (exact).
     */
    GgufBuilder halfTensor(String name, Random rng, int type, boolean asF32, int rows, int cols) {
        ByteBuffer b = le((asF32 ? 4 : 2) * rows * cols);
        for (int i = 0; i < rows * cols; i++) {
            double v = rng.nextGaussian() * 0.1;
            short h = type == 1 ? intactkv.tensor.HalfFloat.toFp16Bits(v) : intactkv.tensor.HalfFloat.toBf16Bits(v);
            if (asF32) {
                b.putFloat((float) (type == 1 ? intactkv.tensor.HalfFloat.fromFp16Bits(h)
                        : intactkv.tensor.HalfFloat.fromBf16Bits(h)));
            } else {
                b.putShort(h);
            }
        }
        return tensor(name, new long[] {cols, rows}, asF32 ? 0 : type, b.array());
    }

    /** Gives the last tensor added the offset {@code off} instead of its aligned place. */
    GgufBuilder offset(long off) {
        tensors.get(tensors.size() - 1)[4] = off;
        return this;
    }

    byte[] build() {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(magic);
        o.writeBytes(le(4).putInt(version).array());
        o.writeBytes(le(16).putLong(tensors.size()).putLong(kvs.size()).array());
        kvs.forEach(o::writeBytes);
        long at = 0;
        List<Long> offsets = new ArrayList<>();
        for (Object[] t : tensors) {
            offsets.add(at);
            at += ((byte[]) t[3]).length;
            at = (at + alignment - 1) / alignment * alignment;
        }
        for (int i = 0; i < tensors.size(); i++) {
            Object[] t = tensors.get(i);
            long[] ne = (long[]) t[1];
            o.writeBytes(string((String) t[0]));
            o.writeBytes(le(4).putInt(ne.length).array());
            for (long x : ne) {
                o.writeBytes(le(8).putLong(x).array());
            }
            o.writeBytes(le(4).putInt((Integer) t[2]).array());
            o.writeBytes(le(8).putLong(t[4] != null ? (Long) t[4] : offsets.get(i)).array());
        }
        while (o.size() % alignment != 0) {
            o.write(0);
        }
        for (Object[] t : tensors) {
            o.writeBytes((byte[]) t[3]);
            while (o.size() % alignment != 0) {
                o.write(0);
            }
        }
        return o.toByteArray();
    }

    /**
     * A valid tiny LLaMA: d 8, 2 heads of 4, 1 KV head, 1 layer, d_ff 16, 6 tokens; untied;
     * {@code skip} names a tensor left out, {@code extraKv} adds its key-value pairs (given before
     * the defaults, so a test can give a key twice).
     */
    static GgufBuilder tinyLlama(long seed, String skip) {
        return tinyLlama(seed, skip, 0, false);
    }

    /**
     * {@link #tinyLlama(long, String)} with its matrices' values rounded to F16 ({@code type} 1) or BF16 (30) and
     * written in that type, or, {@code asF32}, as F32 holding the same values; {@code type} 0: F32 values, as there.
     */
    static GgufBuilder tinyLlama(long seed, String skip, int type, boolean asF32) {
        GgufBuilder b = new GgufBuilder();
        b.str("general.architecture", "llama").u32("llama.block_count", 1).u32("llama.context_length", 64)
                .u32("llama.embedding_length", 8).u32("llama.feed_forward_length", 16)
                .u32("llama.attention.head_count", 2).u32("llama.attention.head_count_kv", 1)
                .f32("llama.attention.layer_norm_rms_epsilon", 1e-5f).f32("llama.rope.freq_base", 10000f)
                .u32("llama.rope.dimension_count", 4).str("tokenizer.ggml.model", "llama")
                .strings("tokenizer.ggml.tokens", "<unk>", "<s>", "</s>", "\u2581", "a", "\u2581a")
                .floats("tokenizer.ggml.scores", 0, 0, 0, -2, -3, -1).ints("tokenizer.ggml.token_type", 3, 3, 3, 1, 1, 1)
                .u32("tokenizer.ggml.bos_token_id", 1).u32("tokenizer.ggml.eos_token_id", 2);
        Random rng = new Random(seed);
        Object[][] ts = {{"token_embd.weight", new int[] {6, 8}}, {"blk.0.attn_norm.weight", new int[] {8}},
            {"blk.0.attn_q.weight", new int[] {8, 8}}, {"blk.0.attn_k.weight", new int[] {4, 8}},
            {"blk.0.attn_v.weight", new int[] {4, 8}}, {"blk.0.attn_output.weight", new int[] {8, 8}},
            {"blk.0.ffn_norm.weight", new int[] {8}}, {"blk.0.ffn_gate.weight", new int[] {16, 8}},
            {"blk.0.ffn_up.weight", new int[] {16, 8}}, {"blk.0.ffn_down.weight", new int[] {8, 16}},
            {"output_norm.weight", new int[] {8}}, {"output.weight", new int[] {6, 8}}};
        for (Object[] t : ts) {
            int[] shape = (int[]) t[1];
            if (t[0].equals(skip)) {
                continue;
            }
            if (type != 0 && shape.length == 2) {
                b.halfTensor((String) t[0], rng, type, asF32, shape[0], shape[1]);
            } else {
                b.f32Tensor((String) t[0], rng, shape);
            }
        }
        return b;
    }
}

package intactkv.cli;

import intactkv.model.LlamaConfig;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A checkpoint of a real model's shape whose tensor data is a hole: config.json, a model.safetensors with
 * the full header (every tensor BF16, in LlamaWeights' names and shapes) and the length the header implies,
 * made by extending the file without writing (a sparse file: no disk blocks), and the built-in model's
 * tokenizer.json. Estimates from config.json and the header can be tested on LLaMA-2-7B's and larger shapes
 * without 13.5 GB of weights; reading a weight would give zeros, and the tests that use it check that
 * nothing is read (a refusal comes first). {@link ScaleTable} evaluates the memory plans of real shapes on it.
 */
final class SparseCheckpoint {
    private SparseCheckpoint() {
    }

    /** Writes the checkpoint of shape {@code c} into {@code dir} (created) and returns dir. */
    static Path write(Path dir, LlamaConfig c) throws IOException {
        Files.createDirectories(dir);
        c.write(dir.resolve("config.json"), "bfloat16");
        Files.copy(DefaultModel.dir().resolve("tokenizer.json"),
                dir.resolve("tokenizer.json"));
        List<String> names = new ArrayList<>();
        names.add("model.embed_tokens.weight");
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            names.add("model.layers." + l + ".input_layernorm.weight");
            for (String s : intactkv.model.LlamaWeights.LINEAR_NAMES) {
                names.add(intactkv.model.LlamaWeights.blockName(l, s));
            }
            names.add("model.layers." + l + ".post_attention_layernorm.weight");
        }
        names.add("model.norm.weight");
        if (!c.tieWordEmbeddings()) {
            names.add("lm_head.weight");
        }
        StringBuilder h = new StringBuilder("{");
        long offset = 0;
        for (String n : names) {
            long[] shape = shape(c, n);
            long bytes = 2;
            for (long s : shape) {
                bytes *= s;
            }
            h.append(h.length() > 1 ? "," : "").append('"').append(n).append("\":{\"dtype\":\"BF16\",\"shape\":[")
                    .append(shape[0]).append(shape.length > 1 ? "," + shape[1] : "").append("],\"data_offsets\":[")
                    .append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        h.append('}');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("model.safetensors").toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            f.write(header);
            f.setLength(8L + header.length + offset);
        }
        return dir;
    }

    private static long[] shape(LlamaConfig c, String n) {
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long f = c.intermediateSize();
        if (n.endsWith("embed_tokens.weight") || n.equals("lm_head.weight")) {
            return new long[] {c.vocabSize(), d};
        }
        if (n.endsWith("norm.weight")) {
            return new long[] {d};
        }
        if (n.endsWith("q_proj.weight") || n.endsWith("o_proj.weight")) {
            return new long[] {d, d};
        }
        if (n.endsWith("k_proj.weight") || n.endsWith("v_proj.weight")) {
            return new long[] {kv, d};
        }
        if (n.endsWith("down_proj.weight")) {
            return new long[] {d, f};
        }
        return new long[] {f, d};
    }
}

package intactkv.prefix;

import intactkv.autograd.GradMode;
import intactkv.autograd.Value;
import intactkv.model.KvCache;
import intactkv.model.LlamaConfig;
import intactkv.model.LlamaModel;
import intactkv.model.io.DType;
import intactkv.model.io.FormatException;
import intactkv.model.io.SafetensorsReader;
import intactkv.model.io.SafetensorsWriter;
import intactkv.model.text.ChatTemplate;
import intactkv.model.text.Tokenizer;
import intactkv.tensor.Shape;
import intactkv.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The IntactKV prefix: the keys and values of the pivot tokens, computed once by the
 * full-precision model and given losslessly to the quantized model as past key/values.
 *
 * <p>Holds, for every layer, K (after RoPE) and V of shape {@code (h_kv, p, d_h)}, the p
 * prefix token ids, and the full-precision logits {@code (p, V)} of the prefix positions
 * (the quantized model never computes those positions). IntactKV_[B] is [BOS] alone
 * ({@code intactkv/utils.py::gen_bos_kv}); IntactKV_[P] is [BOS] plus the Vicuna system prompt
 * and {@code "USER:"} ({@code gen_vicuna_prompt_kv}); any first k tokens serve the size sweep.
 */
public record IntactKvPrefix(int[] ids, List<Tensor> keys, List<Tensor> values, Tensor logits) {
    public IntactKvPrefix {
        ids = ids.clone();
        keys = List.copyOf(keys);
        values = List.copyOf(values);
        if (ids.length == 0) {
            throw new IllegalArgumentException("an IntactKV prefix needs at least one token");
        }
        if (keys.size() != values.size() || keys.isEmpty()) {
            throw new IllegalArgumentException("prefix needs one K and one V per layer, got " + keys.size() + " and "
                    + values.size());
        }
        for (int l = 0; l < keys.size(); l++) {
            Shape k = keys.get(l).shape();
            if (k.rank() != 3 || k.dim(1) != ids.length || !k.equals(values.get(l).shape())) {
                throw new IllegalArgumentException("prefix layer " + l + ": K ('k." + l + "') " + k + " and V ('v." + l
                        + "') " + values.get(l).shape() + " must both be (h_kv, p, d_h) with p = " + ids.length
                        + " (the number of prefix ids)");
            }
        }
        if (logits.rank() != 2 || logits.dim(0) != ids.length) {
            throw new IllegalArgumentException("prefix logits ('prefix_logits') must be (p, V) with p = " + ids.length
                    + ", got " + logits.shape());
        }
    }

    /** Prefix length p. */
    public int length() {
        return ids.length;
    }

    /** Runs the full-precision {@code model} on {@code ids} and keeps its cache and logits. */
    public static IntactKvPrefix generate(LlamaModel model, int[] ids) {
        try (GradMode.Scope s = GradMode.noGrad()) {
            LlamaModel.Output o = model.forward(ids, null, LlamaModel.Options.LOGITS);
            return fromPresent(ids, o, o.logits().data().reshape(ids.length, model.config().vocabSize()));
        }
    }

    /** The prefix of {@code ids} whose keys and values are the present cache of forward pass {@code o}. */
    private static IntactKvPrefix fromPresent(int[] ids, LlamaModel.Output o, Tensor logits) {
        List<Tensor> k = new ArrayList<>();
        List<Tensor> v = new ArrayList<>();
        for (int l = 0; l < o.present().layers(); l++) {
            k.add(squeeze(o.present().keys().get(l).data()));
            v.add(squeeze(o.present().values().get(l).data()));
        }
        return new IntactKvPrefix(ids, k, v, logits);
    }

    /** A present key or value (1, h_kv, p, d_h) as the prefix holds it, (h_kv, p, d_h), copied. */
    static Tensor squeeze(Tensor t) {
        return t.reshape(t.dim(1), t.dim(2), t.dim(3)).copy();
    }

    /** IntactKV_[B]: the [BOS] token alone. */
    public static IntactKvPrefix bos(LlamaModel fp) {
        return generate(fp, new int[] {fp.config().bosTokenId()});
    }

    /** The ids of IntactKV_[P]: [BOS] + the Vicuna v1.1 system prompt + {@code " USER:"}. */
    public static int[] vicunaPromptIds(Tokenizer tok) {
        int[] ids = tok.encode(ChatTemplate.vicunaPrefix(), false);
        int[] out = new int[ids.length + 1];
        out[0] = tok.bosId();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** IntactKV_[P]. */
    public static IntactKvPrefix vicunaPrompt(LlamaModel fp, Tokenizer tok) {
        return generate(fp, vicunaPromptIds(tok));
    }

    /** The first {@code k} tokens of {@code ids} (the IntactKV size sweep). */
    public static IntactKvPrefix firstTokens(LlamaModel fp, int[] ids, int k) {
        if (k < 1 || k > ids.length) {
            throw new IllegalArgumentException("prefix size " + k + " must be in 1.." + ids.length);
        }
        return generate(fp, Arrays.copyOf(ids, k));
    }

    /**
     * This prefix followed by {@code more} tokens that {@code model} computes itself with this
     * prefix as past: the keys, values and logits of the longer prefix. With a quantized
     * {@code model} this is a lossless pivot prefix followed by context the quantized model caches
     * on its own (its run-time KV quantizer applies to the new tokens only), as a deployed model
     * caches a system prompt after an IntactKV prefix.
     */
    public IntactKvPrefix extend(LlamaModel model, int[] more) {
        if (more.length == 0) {
            return this;
        }
        try (GradMode.Scope s = GradMode.noGrad()) {
            LlamaModel.Output o = model.forward(more, asCache(false), LlamaModel.Options.LOGITS);
            int[] all = Arrays.copyOf(ids, ids.length + more.length);
            System.arraycopy(more, 0, all, ids.length, more.length);
            Tensor computed = o.logits().data().reshape(more.length, model.config().vocabSize());
            return fromPresent(all, o, intactkv.tensor.Layout.concat(0, logits, computed));
        }
    }

    /** The prefix as past key/values; {@code trainable} makes every K and V a trainable leaf. */
    public KvCache asCache(boolean trainable) {
        List<Value> k = new ArrayList<>();
        List<Value> v = new ArrayList<>();
        for (int l = 0; l < keys.size(); l++) {
            k.add(trainable ? Value.param(keys.get(l).copy()) : Value.constant(keys.get(l)));
            v.add(trainable ? Value.param(values.get(l).copy()) : Value.constant(values.get(l)));
        }
        return new KvCache(k, v);
    }

    /** A prefix with the same ids and logits and the (trained) keys and values of {@code cache}. */
    public IntactKvPrefix withCache(KvCache cache) {
        List<Tensor> k = new ArrayList<>();
        List<Tensor> v = new ArrayList<>();
        for (int l = 0; l < cache.layers(); l++) {
            k.add(cache.keys().get(l).data().copy());
            v.add(cache.values().get(l).data().copy());
        }
        return new IntactKvPrefix(ids, k, v, logits);
    }

    /** Whether {@code input} starts with this prefix's ids. */
    public boolean isPrefixOf(int[] input) {
        if (input.length < ids.length) {
            return false;
        }
        for (int i = 0; i < ids.length; i++) {
            if (input[i] != ids[i]) {
                return false;
            }
        }
        return true;
    }

    /** Checks that this prefix fits {@code c} (layers, KV heads, head dimension, vocabulary); {@code source} names it. */
    public void requireFits(LlamaConfig c, String source) {
        if (keys.size() != c.numHiddenLayers()) {
            throw new IllegalArgumentException(source + ": prefix has " + keys.size() + " layers ('k.0' .. 'k."
                    + (keys.size() - 1) + "'), the model has " + c.numHiddenLayers() + " (a prefix from another model?)");
        }
        Shape k = keys.get(0).shape();
        if (k.dim(0) != c.numKeyValueHeads() || k.dim(2) != c.headDim()) {
            throw new IllegalArgumentException(source + ": prefix K/V ('k.0', 'v.0', ...) have shape " + k
                    + ", the model needs (h_kv, p, d_h) = ("
                    + c.numKeyValueHeads() + ", p, " + c.headDim() + ")");
        }
        if (logits.dim(1) != c.vocabSize()) {
            throw new IllegalArgumentException(source + ": prefix logits ('prefix_logits') cover " + logits.dim(1)
                    + " tokens, the model's vocabulary has " + c.vocabSize());
        }
    }

    /**
     * Writes {@code k.{l}}, {@code v.{l}} (h_kv, p, d_h), {@code prefix_ids} (p, I64) and
     * {@code prefix_logits} (p, V), all F64, as one safetensors file (atomically).
     */
    public void save(Path file) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "intactkv-prefix")
                .metadata("layers", String.valueOf(keys.size()));
        w.putLongs("prefix_ids", DType.I64, Arrays.stream(ids).asLongStream().toArray(), Shape.of(ids.length));
        w.put("prefix_logits", DType.F64, logits);
        for (int l = 0; l < keys.size(); l++) {
            w.put("k." + l, DType.F64, keys.get(l));
            w.put("v." + l, DType.F64, values.get(l));
        }
        w.write(file);
    }

    /**
     * Reads a prefix file and checks that it fits {@code c}: every tensor present with the
     * shapes the record needs, {@code prefix_ids} token ids of the model's vocabulary (one per
     * K/V position), and every K, V and logit finite. Errors ({@link FormatException}) name the
     * file and the tensor.
     */
    public static IntactKvPrefix load(Path file, LlamaConfig c) throws IOException {
        String text = SafetensorsReader.textStart(file);
        if (text != null) {
            throw new FormatException(file, "not an IntactKV prefix file: it begins with text \"" + text + "\"; a prefix"
                    + " file is the safetensors file that './intactkv calibrate --out FILE' writes (or use --intactkv bos"
                    + " or prompt)");
        }
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            if (!r.contains("prefix_ids") || !r.contains("prefix_logits") || !r.contains("k.0")) {
                throw new FormatException(file, "not an IntactKV prefix file (needs prefix_ids, prefix_logits, k.0, v.0, ...)");
            }
            long[] raw;
            try {
                raw = r.readLongs("prefix_ids");
            } catch (IllegalArgumentException e) {
                throw new FormatException(file, "tensor 'prefix_ids': " + e.getMessage(), e);
            }
            if (raw.length == 0) {
                throw new FormatException(file, "tensor 'prefix_ids' is empty (a prefix has at least one token)");
            }
            int[] ids = new int[raw.length];
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] < 0 || raw[i] >= c.vocabSize()) {
                    throw new FormatException(file, "tensor 'prefix_ids' [" + i + "] = " + raw[i]
                            + " is not a token id of the model (vocabulary " + c.vocabSize() + ")");
                }
                ids[i] = (int) raw[i];
            }
            List<Tensor> k = new ArrayList<>();
            List<Tensor> v = new ArrayList<>();
            for (int l = 0; r.contains("k." + l); l++) {
                if (!r.contains("v." + l)) {
                    throw new FormatException(file, "has tensor 'k." + l + "' but no 'v." + l + "'");
                }
                k.add(r.readFinite("k." + l));
                v.add(r.readFinite("v." + l));
            }
            IntactKvPrefix p;
            try {
                p = new IntactKvPrefix(ids, k, v, r.readFinite("prefix_logits"));
                p.requireFits(c, file.toString());
            } catch (IllegalArgumentException e) {
                String m = e.getMessage();
                throw new FormatException(file, m.startsWith(file + ": ") ? m.substring(file.toString().length() + 2) : m, e);
            }
            return p;
        }
    }
}

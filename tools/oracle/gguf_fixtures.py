#!/usr/bin/env python3
"""GGUF fixtures written with llama.cpp's own Python package gguf-py (its GGUFWriter, and
gguf.quants for quantizing and dequantizing, which mirror ggml's reference C functions), for
the tests of intactkv.model.gguf (GgufQuantTypesTest, GgufModelTest, GgufVocabTest).

Usage (gguf-py from a llama.cpp checkout; numpy; no torch needed):
    PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 tools/oracle/gguf_fixtures.py \
        model/src/test/resources/oracle/gguf [--default-model OUT.gguf]

Writes into the folder:
  quant_types.gguf  for each ggml type the reader supports, a tensor TYPE of a few blocks in that
                    type and TYPE.expected (F32): gguf.quants.dequantize of the same bytes. Block
                    types get random bytes (every bit pattern of the codes and scales) with their
                    fp16 scale fields set to finite values, plus TYPE.q for the legacy types: a
                    random float32 tensor quantized by gguf.quants.quantize.
  gqa_f32.gguf      the committed Hugging Face test model oracle/model/gqa_f32 (d 32, 4 heads,
                    2 KV heads, 2 layers, F32) converted as convert_hf_to_gguf.py converts a
                    LLaMA: its tensor names, llama.* metadata, and the q_proj/k_proj rows
                    permuted by LlamaModel.permute (n_head for Q, n_head_kv for K).
  gqa_mixed.gguf    the same model with q/k/v/o/gate/up in Q8_0, Q4_0, Q5_1, Q4_1, Q5_0, Q8_0
                    (their rows of 32 are one block), the embedding F16, the LM head BF16,
                    down_proj (rows of 48) and the norms F32; tied: no.
  gqa_mixed.expected.gguf  the Hugging Face tensors of gqa_mixed (dequantized by gguf-py, the
                    permutation undone in numpy), F32, under their Hugging Face names.
  vocab_spm.gguf    the built-in model's tokenizer (examples/default-model/tokenizer.json) as a
                    tokenizer.ggml.model = llama vocabulary: tokens by id, token types (control
                    for <unk> <s> </s>, byte for <0xNN>), scores = -(rank of the merge that makes
                    the token) so that the highest score is the first merge.
  vocab_bpe.gguf    the byte-level test tokenizer (model/src/test/resources/bytelevel/tokenizer.json,
                    LLaMA-3's pattern) as tokenizer.ggml.model = gpt2, pre = llama-bpe.

With --default-model OUT.gguf it also writes the built-in model (examples/default-model, F32
safetensors) as an F32 GGUF (about 6 MB, not committed) for `./intactkv ppl --model OUT.gguf`.

Versions used for the committed files: see the end of docs/FORMATS.md ("GGUF in").
"""
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# byte offsets of the fp16 scale fields inside one block (ggml-common.h block structs)
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
LEGACY = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
KQUANTS = [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def read_safetensors(path):
    """{name: float32 numpy array} of an F32 safetensors file (header JSON + data), read by hand."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(e["shape"]).copy()
    return out


def permute(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute: rows of each head reordered for ggml's RoPE."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def unpermute(w, n_head):
    """The inverse of permute(w, n_head, n_head)."""
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


HF_TO_GGUF = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")  # model.layers.N.<module>.weight
    return "blk.%s.%s.weight" % (parts[2], HF_TO_GGUF[".".join(parts[3:-1])])


def random_blocks(rng, qtype, n_blocks):
    """Random bytes for n_blocks blocks of qtype, the fp16 scales set to finite values of either sign."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for b in range(n_blocks):
        for off in HALF_FIELDS[qtype]:
            v = np.float16(rng.choice([-1, 1]) * rng.uniform(1e-3, 2.0))
            raw[b, off:off + 2] = np.frombuffer(v.tobytes(), dtype=np.uint8)
    # one block with subnormal fp16 scales: ggml widens them exactly
    for off in HALF_FIELDS[qtype]:
        raw[0, off:off + 2] = np.frombuffer(np.float16(3e-6).tobytes(), dtype=np.uint8)
    return raw.reshape(-1)


def quant_types(path, rng):
    w = gguf.GGUFWriter(path, "llama")
    w.add_string("general.description", "intactkv GGUF dequantization fixtures")
    x = rng.standard_normal((2, 64)).astype(np.float32)
    w.add_tensor("F32", x)
    w.add_tensor("F32.expected", x)
    h = (rng.standard_normal((2, 64)) * 3).astype(np.float16)
    h[0, :4] = [np.float16(6e-8), np.float16(-0.0), np.float16(65504), np.float16(1e-5)]
    w.add_tensor("F16", h)
    w.add_tensor("F16.expected", h.astype(np.float32))
    bf = rng.integers(0, 65536, size=(2, 64), dtype=np.uint16)
    bf[(bf & 0x7F80) == 0x7F80] &= 0xBFFF  # no NaN or infinity: clear an exponent bit where all were set
    bf_bytes = bf.view(np.uint8).reshape(2, 128)
    w.add_tensor("BF16", bf_bytes, raw_dtype=T.BF16)
    w.add_tensor("BF16.expected", quants.dequantize(bf_bytes, T.BF16).astype(np.float32).reshape(2, 64))
    for qt in LEGACY + KQUANTS:
        block, size = gguf.GGML_QUANT_SIZES[qt]
        n_blocks = 4 if qt in LEGACY else 2
        raw = random_blocks(rng, qt, n_blocks).reshape(2, -1)
        cols = n_blocks * block // 2
        w.add_tensor(qt.name, raw, raw_dtype=qt)
        w.add_tensor(qt.name + ".expected", quants.dequantize(raw, qt).astype(np.float32).reshape(2, cols))
        if qt in LEGACY:
            y = (rng.standard_normal((2, 64)) * 0.1).astype(np.float32)
            q = quants.quantize(y, qt)
            w.add_tensor(qt.name + ".q", q, raw_dtype=qt)
            w.add_tensor(qt.name + ".q.expected", quants.dequantize(q, qt).astype(np.float32).reshape(2, 64))
    finish(w)


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_metadata(w, cfg):
    w.add_uint32("llama.block_count", cfg["num_hidden_layers"])
    w.add_uint32("llama.context_length", cfg.get("max_position_embeddings", 2048))
    w.add_uint32("llama.embedding_length", cfg["hidden_size"])
    w.add_uint32("llama.feed_forward_length", cfg["intermediate_size"])
    w.add_uint32("llama.attention.head_count", cfg["num_attention_heads"])
    w.add_uint32("llama.attention.head_count_kv", cfg.get("num_key_value_heads", cfg["num_attention_heads"]))
    w.add_float32("llama.attention.layer_norm_rms_epsilon", cfg["rms_norm_eps"])
    w.add_float32("llama.rope.freq_base", cfg.get("rope_theta", 10000.0))
    w.add_uint32("llama.rope.dimension_count", cfg["hidden_size"] // cfg["num_attention_heads"])
    w.add_uint32("general.file_type", 0)


def placeholder_vocab(w, n):
    """A vocabulary of n tokens for a model fixture: <unk> <s> </s> then t3, t4, ..."""
    toks = ["<unk>", "<s>", "</s>"] + ["t%d" % i for i in range(3, n)]
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * n)
    w.add_token_types([3, 3, 3] + [1] * (n - 3))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)


def spm_vocab(w, tokenizer_json):
    tj = json.load(open(tokenizer_json, encoding="utf-8"))
    vocab = dict(tj["model"]["vocab"])
    for a in tj["added_tokens"]:
        vocab[a["content"]] = a["id"]
    n = max(vocab.values()) + 1
    pieces = [None] * n
    for p, i in vocab.items():
        pieces[i] = p
    added = {a["id"] for a in tj["added_tokens"]}
    scores = [0.0] * n
    made = set()
    for rank, m in enumerate(tj["model"]["merges"]):
        left, right = m if isinstance(m, list) else m.split(" ", 1)
        t = vocab[left + right]
        if t not in made:
            made.add(t)
            scores[t] = -float(rank + 1)
    types = []
    for i, p in enumerate(pieces):
        if i in added:
            types.append(3)
        elif len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            types.append(6)
        else:
            types.append(1)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(vocab["<s>"])
    w.add_eos_token_id(vocab["</s>"])
    w.add_unk_token_id(vocab["<unk>"])
    w.add_add_bos_token(True)
    w.add_add_space_prefix(True)


def bpe_vocab(path, tokenizer_json):
    tj = json.load(open(tokenizer_json, encoding="utf-8"))
    vocab = dict(tj["model"]["vocab"])
    for a in tj["added_tokens"]:
        vocab[a["content"]] = a["id"]
    n = max(vocab.values()) + 1
    pieces = [None] * n
    for p, i in vocab.items():
        pieces[i] = p
    added = {a["id"] for a in tj["added_tokens"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(pieces)
    w.add_token_types([3 if i in added else 1 for i in range(n)])
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<|begin_of_text|>"])
    w.add_eos_token_id(vocab["<|end_of_text|>"])
    w.add_add_bos_token(True)
    finish(w)


def model_gguf(path, src_dir, types, vocab):
    """The HF checkpoint in src_dir as a GGUF; types maps an HF name suffix to a ggml type (default F32)."""
    cfg = json.load(open(os.path.join(src_dir, "config.json")))
    hf = read_safetensors(os.path.join(src_dir, "model.safetensors"))
    h, hkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    w = gguf.GGUFWriter(path, "llama")
    llama_metadata(w, cfg)
    if vocab is None:
        placeholder_vocab(w, cfg["vocab_size"])
    else:
        spm_vocab(w, vocab)
    expected = {}
    for name, t in hf.items():
        if name.endswith("q_proj.weight"):
            t = permute(t, h, h)
        elif name.endswith("k_proj.weight"):
            t = permute(t, h, hkv)
        qt = next((v for k, v in types.items() if name.endswith(k)), T.F32)
        if qt == T.F32:
            data, back = t, t
        elif qt == T.F16:
            data = t.astype(np.float16)
            back = data.astype(np.float32)
        else:
            data = quants.quantize(t, qt)
            back = quants.dequantize(data, qt).astype(np.float32).reshape(t.shape)
        if qt in (T.F32, T.F16):
            w.add_tensor(gguf_name(name), data)
        else:
            w.add_tensor(gguf_name(name), data, raw_dtype=qt)
        if name.endswith("q_proj.weight"):
            back = unpermute(back, h)
        elif name.endswith("k_proj.weight"):
            back = unpermute(back, hkv)
        expected[name] = np.ascontiguousarray(back, dtype=np.float32)
    finish(w)
    return expected


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(29)
    quant_types(os.path.join(out, "quant_types.gguf"), rng)
    gqa = os.path.join(ROOT, "model/src/test/resources/oracle/model/gqa_f32")
    model_gguf(os.path.join(out, "gqa_f32.gguf"), gqa, {}, None)
    mixed = {"q_proj.weight": T.Q8_0, "k_proj.weight": T.Q4_0, "v_proj.weight": T.Q5_1, "o_proj.weight": T.Q4_1,
             "gate_proj.weight": T.Q5_0, "up_proj.weight": T.Q8_0, "embed_tokens.weight": T.F16,
             "lm_head.weight": T.BF16}
    expected = model_gguf(os.path.join(out, "gqa_mixed.gguf"), gqa, mixed, None)
    w = gguf.GGUFWriter(os.path.join(out, "gqa_mixed.expected.gguf"), "llama")
    for name in sorted(expected):
        w.add_tensor(name, expected[name])
    finish(w)
    w = gguf.GGUFWriter(os.path.join(out, "vocab_spm.gguf"), "llama")
    spm_vocab(w, os.path.join(ROOT, "examples/default-model/tokenizer.json"))
    finish(w)
    bpe_vocab(os.path.join(out, "vocab_bpe.gguf"), os.path.join(ROOT, "model/src/test/resources/bytelevel/tokenizer.json"))
    if "--default-model" in sys.argv:
        dst = sys.argv[sys.argv.index("--default-model") + 1]
        dm = os.path.join(ROOT, "examples/default-model")
        model_gguf(dst, dm, {}, os.path.join(dm, "tokenizer.json"))
        print("wrote", dst)


if __name__ == "__main__":
    main()

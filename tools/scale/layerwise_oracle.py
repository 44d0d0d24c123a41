#!/usr/bin/python3
"""A PyTorch float64 LLaMA forward that reads a checkpoint one decoder layer at a time: the oracle for the
logits of the real-shape random checkpoints (tools/scale/random_checkpoint.py), where holding the whole model in
float64 (54 GB for LLaMA-2-7B) is not possible.

Reads config.json and model.safetensors (one file; the header gives each tensor's dtype, shape and byte range)
with numpy memory maps, converts only the current layer's tensors to float64 (BF16, F16, F32 and F64 convert
exactly), and runs the few tokens through it; no transformers. Written from the LLaMA definitions of
docs/DESIGN.md and Hugging Face's modeling_llama (RMSNorm, rotate-half RoPE, grouped-query attention with a
causal mask, SwiGLU MLP), independently of the Java code.

    /usr/bin/python3 tools/scale/layerwise_oracle.py DIR --tokens 1,5,9 [--rtn-wbits 3 --group 128 | --quantized QDIR]
        [--intactkv bos] [--compare JAVA_DUMP.safetensors] [--tol 1e-9] [--out logits.npy]
    /usr/bin/python3 tools/scale/layerwise_oracle.py DIR --bench 256,8

--bench T,STEPS: PyTorch's side of the speed comparison instead: the whole model held in the file's dtype (13.5
GB for LLaMA-2-7B in BF16), each weight made float64 where a layer uses it (as the Java side does), a prefill
of T random tokens and STEPS greedy single-token steps with a KV cache, timed by the wall clock.

--rtn-wbits B: every linear layer inside the decoder blocks is RTN-quantized (asymmetric, groups of --group
inputs, round half to even; docs/DESIGN.md section 2), embeddings and lm_head stay full precision.
--quantized QDIR: the decoder's linears are those of a packed checkpoint written by `./intactkv quantize` (rtn,
gptq, or omniquant's dequantized weights; the quantizer itself is not rerun), decoded here from the format's
description (docs/RELIABILITY.md, "Packed quantized checkpoints"), not by the Java reader: P.qcodes is one stream of
b-bit values, lowest bit first, across little-endian 32-bit words, code = stored + qmin, and element (r, c) is
(code - z) * s with the scale and zero of (r, g_idx[c]). The norms, embeddings and head of the quantized side come
from QDIR too. Refused: a QDIR whose quant_config.json quantizes activations or the KV cache, or whose method
changes the basis (awq, quarot), which this oracle does not model.
--intactkv bos: the first token must be [BOS]; its keys and values (after RoPE) come from the full-precision
layers and are the past of the quantized model, which runs the other tokens (IntactKV_[B]).
--compare: a file written by `./intactkv dump --tokens ... --out FILE` with the same flags; the last
position's logits are compared and the script exits 1 when the largest absolute difference exceeds --tol.
Prints one JSON line.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

NP = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


class Safetensors:
    """The header of one .safetensors file and float64 copies of its tensors, read through a memory map."""

    def __init__(self, path):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            self.header = json.loads(f.read(n))
        self.header.pop("__metadata__", None)
        self.base = 8 + n
        size = os.path.getsize(path)
        for name, e in self.header.items():
            if self.base + e["data_offsets"][1] > size:
                sys.exit(f"{path}: tensor {name} ends at byte {self.base + e['data_offsets'][1]}, the file has {size}")
        self.map = np.memmap(path, dtype=np.uint8, mode="r")

    def has(self, name):
        return name in self.header

    def raw(self, name):
        """The tensor's elements as stored (a numpy view of the map, no conversion)."""
        e = self.header[name]
        lo, hi = e["data_offsets"]
        return np.frombuffer(self.map[self.base + lo:self.base + hi], dtype=NP[e["dtype"]])

    def get(self, name):
        e = self.header[name]
        raw = self.raw(name)
        if e["dtype"] == "BF16":  # the upper half of a float32 pattern: exact
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        return torch.from_numpy(raw.astype(np.float64)).reshape(e["shape"])


def rtn(w, bits, group):
    """RTN fake quantization of W (out, in), groups of `group` consecutive inputs (-1: the whole row)."""
    out, inp = w.shape
    g = inp if group == -1 else group
    x = w.reshape(out, inp // g, g)
    maxq = 2 ** bits - 1
    mn, mx = x.amin(dim=2, keepdim=True), x.amax(dim=2, keepdim=True)
    s = torch.clamp(mx - mn, min=1e-5) / maxq
    z = torch.clamp(-torch.round(mn / s), 0, maxq)
    q = torch.clamp(torch.round(x / s) + z, 0, maxq)
    return ((q - z) * s).reshape(out, inp)


def packed(st, p, rows, cols):
    """The dequantized float64 weight P (rows, cols) of a packed checkpoint: code i is the `bits` bits of the
    stream from bit i * bits (two adjacent little-endian 32-bit words joined, then shifted and masked), plus qmin;
    then (code - z) * s with each column's group from P.g_idx."""
    bits, qmin = (int(x) for x in st.raw(p + ".qparams"))
    n = rows * cols
    words = st.raw(p + ".qcodes").view(np.uint32)
    if words.size != -(-n * bits // 32):
        sys.exit(f"{p}.qcodes: {words.size} words for {n} codes of {bits} bits")
    words = np.append(words, np.uint32(0)).astype(np.uint64)
    start = np.arange(n, dtype=np.uint64) * np.uint64(bits)
    w = start >> np.uint64(5)
    pair = words[w] | (words[w + np.uint64(1)] << np.uint64(32))
    del w
    codes = ((pair >> (start & np.uint64(31))) & np.uint64((1 << bits) - 1)).astype(np.int64)
    del pair, start
    g_idx = torch.from_numpy(st.raw(p + ".g_idx").astype(np.int64))
    s = st.get(p + ".scales")[:, g_idx]
    z = st.get(p + ".zeros")[:, g_idx]
    code = torch.from_numpy(codes + qmin).to(torch.float64).reshape(rows, cols)
    return (code - z) * s


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, theta):
    """x (h, T, d_h) at positions pos (T,): rotate-half RoPE as Hugging Face LLaMA."""
    dh = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh))
    f = pos.to(torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([f, f], dim=-1)
    half = dh // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * emb.cos() + rot * emb.sin()


def layer(c, w, h, pos, past):
    """One decoder layer on h (T, d) at positions pos; past = (K, V) of earlier positions or None.
    Returns (output, (K, V) of these positions after RoPE)."""
    d, nh, nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    dh, t = d // nh, h.shape[0]
    x = rms_norm(h, w["input_layernorm"], c["rms_norm_eps"])
    q = (x @ w["q_proj"].T).reshape(t, nh, dh).transpose(0, 1)
    k = (x @ w["k_proj"].T).reshape(t, nkv, dh).transpose(0, 1)
    v = (x @ w["v_proj"].T).reshape(t, nkv, dh).transpose(0, 1)
    q, k = rope(q, pos, c["rope_theta"]), rope(k, pos, c["rope_theta"])
    kk, vv = (k, v) if past is None else (torch.cat([past[0], k], 1), torch.cat([past[1], v], 1))
    rep = nh // nkv
    kk_h, vv_h = kk.repeat_interleave(rep, 0), vv.repeat_interleave(rep, 0)
    p = kk.shape[1] - t
    scores = q @ kk_h.transpose(1, 2) / math.sqrt(dh)
    mask = torch.arange(kk.shape[1])[None, :] > (torch.arange(t)[:, None] + p)
    scores = scores.masked_fill(mask, float("-inf"))
    o = (torch.softmax(scores, dim=-1) @ vv_h).transpose(0, 1).reshape(t, d)
    h = h + o @ w["o_proj"].T
    x = rms_norm(h, w["post_attention_layernorm"], c["rms_norm_eps"])
    g = x @ w["gate_proj"].T
    h = h + (torch.nn.functional.silu(g) * (x @ w["up_proj"].T)) @ w["down_proj"].T
    return h, (k, v)


LINEARS = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
           "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def layer_weights(st, i, bits, group, qst=None, need_fp=True):
    """Layer i's weights as float64: full precision, and RTN-quantized when bits is set, or those of the packed
    checkpoint qst when given (else the same). With qst, the full-precision ones are read only when need_fp
    (IntactKV's prefix); otherwise None."""
    p = f"model.layers.{i}."
    if qst is not None:
        q = {n: qst.get(f"{p}{n}.weight") for n in ("input_layernorm", "post_attention_layernorm")}
        for n, where in LINEARS.items():
            name = f"{p}{where}.{n}"
            rows, cols = st.header[name + ".weight"]["shape"]
            q[n] = packed(qst, name, rows, cols) if qst.has(name + ".qcodes") else qst.get(name + ".weight")
        return (layer_weights(st, i, 0, group)[0] if need_fp else None), q
    fp = {n: st.get(f"{p}{n}.weight") for n in ("input_layernorm", "post_attention_layernorm")}
    for n, where in LINEARS.items():
        fp[n] = st.get(f"{p}{where}.{n}.weight")
    if not bits:
        return fp, fp
    q = dict(fp)
    for n in LINEARS:
        q[n] = rtn(fp[n], bits, group)
    return fp, q


def open_quantized(qdir):
    """The packed checkpoint QDIR, refused when it needs more than weight quantization in the original basis."""
    with open(os.path.join(qdir, "quant_config.json")) as f:
        qc = json.load(f)
    method = str(qc.get("method", "")).lower()
    if method in ("awq", "quarot"):
        sys.exit(f"{qdir}: quant_config.json method {method} changes the model's basis; this oracle runs only "
                 "weight codes in the original basis (rtn, gptq, omniquant)")
    for field in ("activation", "kv_cache"):
        bits = int(qc.get(field, {}).get("bits", 16))
        if bits < 16:
            sys.exit(f"{qdir}: quant_config.json field '{field}.bits' is {bits}; this oracle quantizes weights only")
    if qc.get("weight_format") != "packed":
        sys.exit(f"{qdir}: quant_config.json has no \"weight_format\": \"packed\"")
    return Safetensors(os.path.join(qdir, "model.safetensors"))


def bench(st, c, t, steps):
    """PyTorch's side of the prefill/decode comparison: the weights kept in the file's dtype (as the Java side
    keeps them) and made float64 where a layer uses them, prefill of t random tokens, then `steps` single-token
    steps with a KV cache. Returns (prefill tokens/s, decode tokens/s)."""
    keep = {}
    for name, e in st.header.items():
        raw = st.raw(name)
        if e["dtype"] == "BF16":  # torch 1.13 has no uint16: the same bits as int16, viewed as bfloat16
            x = torch.from_numpy(raw.view(np.int16).copy()).view(torch.bfloat16)
        else:
            x = torch.from_numpy(raw.copy())
        keep[name] = x.reshape(e["shape"])

    def get(name):
        return keep[name].to(torch.float64)

    def forward(ids, start, cache):
        h = get("model.embed_tokens.weight")[torch.tensor(ids)]
        pos = torch.arange(start, start + len(ids))
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            w = {n: get(f"{p}{n}.weight") for n in ("input_layernorm", "post_attention_layernorm")}
            for n, where in LINEARS.items():
                w[n] = get(f"{p}{where}.{n}.weight")
            h, kv = layer(c, w, h, pos, cache[i])
            cache[i] = kv if cache[i] is None else (torch.cat([cache[i][0], kv[0]], 1), torch.cat([cache[i][1], kv[1]], 1))
        last = rms_norm(h[-1:], get("model.norm.weight"), c["rms_norm_eps"])
        return (last @ get("lm_head.weight").T)[0]

    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, c["vocab_size"], (t,), generator=g).tolist()
    forward(ids[:min(t, 16)], 0, [None] * c["num_hidden_layers"])  # warm-up
    cache = [None] * c["num_hidden_layers"]
    t0 = time.perf_counter()
    logits = forward(ids, 0, cache)
    t1 = time.perf_counter()
    for k in range(steps):
        logits = forward([int(logits.argmax())], t + k, cache)
    t2 = time.perf_counter()
    return t / (t1 - t0), steps / (t2 - t1) if steps else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--tokens", help="comma-separated token ids (required unless --bench)")
    ap.add_argument("--rtn-wbits", type=int, default=0)
    ap.add_argument("--group", type=int, default=128)
    ap.add_argument("--quantized", metavar="QDIR", help="a packed checkpoint of `./intactkv quantize`")
    ap.add_argument("--intactkv", choices=["none", "bos"], default="none")
    ap.add_argument("--compare", help="a safetensors file of `./intactkv dump` (its logits (T, V))")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--out", help="write the last position's logits (V,) as .npy")
    ap.add_argument("--bench", metavar="T,STEPS", help="instead: time prefill of T tokens and STEPS decode steps")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    c = dict(rope_theta=10000.0, rms_norm_eps=1e-5)
    with open(os.path.join(a.dir, "config.json")) as f:
        c.update(json.load(f))
    if a.bench:
        t, steps = (int(x) for x in a.bench.split(","))
        pre, dec = bench(Safetensors(os.path.join(a.dir, "model.safetensors")), c, t, steps)
        print(json.dumps({"bench": "torch_f64_stored", "dir": a.dir, "T": t, "steps": steps, "threads": os.cpu_count(),
                          "prefill_tok_s": round(pre, 3), "decode_tok_s": round(dec, 4), "torch": torch.__version__}))
        return
    if not a.tokens:
        sys.exit("give --tokens ID,ID,... (or --bench T,STEPS)")
    ids = [int(x) for x in a.tokens.split(",")]
    if a.intactkv == "bos" and (ids[0] != c.get("bos_token_id", 1) or len(ids) < 2):
        sys.exit(f"--intactkv bos: the tokens must start with [BOS] = {c.get('bos_token_id', 1)} and have one more")
    t0 = time.time()
    st = Safetensors(os.path.join(a.dir, "model.safetensors"))
    if a.quantized and a.rtn_wbits:
        sys.exit("give --rtn-wbits or --quantized, not both")
    qst = open_quantized(a.quantized) if a.quantized else None
    split = 1 if a.intactkv == "bos" else 0  # positions [0, split) run in full precision as the IntactKV prefix
    pos = torch.arange(len(ids))
    emb = st.get("model.embed_tokens.weight")
    h_fp = emb[torch.tensor(ids[:split], dtype=torch.long)]
    if qst is not None and qst.has("model.embed_tokens.weight"):
        emb = qst.get("model.embed_tokens.weight")
    h_q = emb[torch.tensor(ids[split:])]
    del emb
    for i in range(c["num_hidden_layers"]):
        fp, q = layer_weights(st, i, a.rtn_wbits, a.group, qst, need_fp=bool(split))
        past = None
        if split:
            h_fp, past = layer(c, fp, h_fp, pos[:split], None)
        h_q, _ = layer(c, q, h_q, pos[split:], past)
        del fp, q
    top = qst if qst is not None else st
    last = rms_norm(h_q[-1:], top.get("model.norm.weight"), c["rms_norm_eps"])
    head = top.get("model.embed_tokens.weight" if c.get("tie_word_embeddings") else "lm_head.weight")
    logits = (last @ head.T)[0]
    res = {"dir": a.dir, "tokens": len(ids), "rtn_wbits": a.rtn_wbits, "group": a.group, "quantized": a.quantized,
           "intactkv": a.intactkv,
           "seconds": round(time.time() - t0, 1), "logits_last_first4": [float(x) for x in logits[:4]]}
    if a.out:
        np.save(a.out, logits.numpy())
    ok = True
    if a.compare:
        java = Safetensors(a.compare).get("logits")
        diff = (java[-1] - logits).abs().max().item()
        ok = diff <= a.tol
        res.update(compare=a.compare, max_abs_diff=diff, tol=a.tol, agree=ok)
    print(json.dumps(res))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""QuaRot W4A4KV4 oracle in PyTorch float64, written from the QuaRot paper (Ashkboos et al. 2024)
and the formulas of the IntactKV repository's quarot/ code (not copied from it):

- a small random GQA LLaMA (d 64, 4 heads of 16, 2 KV heads, d_ff 96 = 12 * 8 so that the MLP
  transform needs the order-12 Hadamard matrix, 2 layers, vocabulary 100), written as
  config.json + model.safetensors (F64);
- the rotation: RMSNorm weights folded into the next linears, the residual stream rotated by
  Q = diag(s) M_d^T (s: the signs java.util.Random(seed).nextBoolean() draws, re-implemented
  here), down_proj W <- W M_ff^T, v_proj rotated per head (rows by M_dh), o_proj W <- W M_d^T;
  the Hadamard transforms applied as upstream applies them (a Walsh-Hadamard butterfly on the
  last axis viewed as (K, n/K), then H_K on the first, over sqrt(n));
- the online transforms: x M_ff^T before down_proj, M_h across heads before o_proj, M_dh on
  queries and keys after RoPE;
- GPTQ (true-sequential groups, act-order, damp 0.01, blocks of 128, the Hessian accumulated
  sample by sample as add_batch does) with QuaRot's WeightQuantizer (symmetric 4-bit per
  channel, s = max|w| / 7, levels -8..7) and the --w_clip MSE search (norm 2.4, grid 100,
  maxshrink 0.8); calibration through the rotated model with the online transforms, no quantizer;
- the quantized forward: every decoder linear's input 4-bit symmetric per token with zero in
  the range, clip 0.9; keys 4-bit asymmetric per (token, head) with zero in the range, clip 0.95;
  values 4-bit asymmetric per (token, head) without zero, clip 0.95 (ActQuantizer's per-token and
  groupwise paths); IntactKV_[B]: the [BOS] K/V of the rotated full-precision model as past.

Checks made here: the rotated full-precision model gives the original logits (1e-9 relative);
with --upstream-hadamard PATH (quarot/hadamard_utils.py of the official code, e.g.
`git -C /work/.mirror/ruikangliu+IntactKV/repo show HEAD:quarot/hadamard_utils.py > /tmp/h.py`),
that the Paley-built Hadamard matrices equal upstream's tables entry for entry.

Usage: /usr/bin/python3 tools/oracle/quarot_oracle.py [--upstream-hadamard PATH]
           [--out quant/src/test/resources/oracle/quarot]
"""
import argparse
import json
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_fixtures  # noqa: E402  (its safetensors writer)

DT = torch.float64
SEED = 42
CFG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "num_key_value_heads": 2,
    "num_hidden_layers": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": 100,
    "max_position_embeddings": 128, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
    "torch_dtype": "float64",
}
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
SEQUENTIAL = [["self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"], ["self_attn.o_proj"],
              ["mlp.up_proj", "mlp.gate_proj"], ["mlp.down_proj"]]


# ---------------------------------------------------------------- Hadamard matrices

def legendre(a, q):
    a %= q
    if a == 0:
        return 0
    return 1 if pow(a, (q - 1) // 2, q) == 1 else -1


def paley_one(q):
    """Paley's first construction, order q + 1 (q prime, q = 3 mod 4), normalised as I - S."""
    n = q + 1
    h = torch.zeros(n, n, dtype=DT)
    h[0, :] = -1
    h[:, 0] = 1
    for i in range(1, n):
        for j in range(1, n):
            h[i, j] = 1 if i == j else -legendre(j - i, q)
    return h


def paley_two(q):
    """Paley's second construction, order 2(q + 1) (q prime, q = 1 mod 4): A (x) C + B (x) I."""
    n = q + 1
    c = torch.zeros(n, n, dtype=DT)
    c[0, 1:] = 1
    c[1:, 0] = 1
    for i in range(1, n):
        for j in range(1, n):
            c[i, j] = legendre(j - i, q)
    a = torch.tensor([[1., 1.], [1., -1.]], dtype=DT)
    b = torch.tensor([[1., -1.], [-1., -1.]], dtype=DT)
    return torch.kron(a, c) + torch.kron(b, torch.eye(n, dtype=DT))


def base(k):
    if k in (12, 20, 60, 108, 140):
        return paley_one(k - 1)
    if k in (28, 36):
        return paley_two(k // 2 - 1)
    if k == 40:
        return torch.kron(torch.tensor([[1., 1.], [1., -1.]], dtype=DT), paley_one(19))
    raise ValueError(k)


def pow2(n):
    return n > 0 and n & (n - 1) == 0


def had_k(n):
    """The factor K of a size-n transform, tried in the upstream order."""
    if pow2(n):
        return 1
    for k in (172, 156, 140, 108, 60, 52, 36, 28, 40, 20, 12):
        if n % k == 0:
            assert pow2(n // k) and k not in (52, 156, 172), n
            return k
    raise ValueError(n)


def fwht(x):
    """Unnormalised Walsh-Hadamard transform (Sylvester order) of the last axis, by butterflies."""
    n = x.shape[-1]
    y = x.clone()
    h = 1
    while h < n:
        y = y.reshape(*x.shape[:-1], n // (2 * h), 2, h)
        a, b = y[..., 0, :], y[..., 1, :]
        y = torch.stack((a + b, a - b), dim=-2).reshape(*x.shape[:-1], n)
        h *= 2
    return y


def had(x):
    """M_n x on the last axis: view (K, n/K), Walsh-Hadamard on the last, H_K on the first, / sqrt(n)."""
    n = x.shape[-1]
    k = had_k(n)
    y = fwht(x.reshape(*x.shape[:-1], k, n // k))
    if k > 1:
        y = base(k) @ y
    return y.reshape(x.shape) / math.sqrt(n)


class JavaRandom:
    """java.util.Random's 48-bit linear congruential generator (setSeed, next, nextBoolean)."""

    def __init__(self, seed):
        self.s = (seed ^ 0x5DEECE66D) & ((1 << 48) - 1)

    def next(self, bits):
        self.s = (self.s * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        return self.s >> (48 - bits)

    def next_boolean(self):
        return self.next(1) != 0


def random_hadamard(n, seed):
    """diag(s) M_n^T: the rows of I with signs s, each transformed by M_n."""
    rng = JavaRandom(seed)
    s = torch.tensor([1.0 if rng.next_boolean() else -1.0 for _ in range(n)], dtype=DT)
    return had(torch.diag(s))


def check_upstream(path):
    src = open(path).read()
    for k in (12, 20, 28, 36, 40, 60, 108, 140):
        m = re.search(r"def get_had%d\(\):\s*return torch\.FloatTensor\((\[.*?\])\)\s*\n" % k, src, re.S)
        rows = re.findall(r"\[([^\[\]]*)\]", m.group(1))
        up = torch.tensor([[float(t) for t in r.split(",") if t.strip()] for r in rows], dtype=DT)
        if not torch.equal(up, base(k)):
            raise SystemExit(f"H_{k} differs from upstream's get_had{k}")
    print("Hadamard bases 12, 20, 28, 36, 40, 60, 108, 140 equal upstream's tables")


# ---------------------------------------------------------------- quantizers

def act_quant(x, bits, sym, clip, with_zero):
    """ActQuantizer per last-axis row: find_params (with zero) or the groupwise path (without)."""
    if with_zero:
        xmin = torch.minimum(x.amin(-1, keepdim=True), torch.zeros(1, dtype=DT)) * clip
        xmax = torch.maximum(x.amax(-1, keepdim=True), torch.zeros(1, dtype=DT)) * clip
    else:
        xmin = x.amin(-1, keepdim=True) * clip
        xmax = x.amax(-1, keepdim=True) * clip
    if sym:
        maxq = 2 ** (bits - 1) - 1
        xmax = torch.maximum(xmin.abs(), xmax)
        scale = torch.where(xmax == 0, torch.ones_like(xmax), xmax / maxq)
        return torch.clamp(torch.round(x / scale), -(maxq + 1), maxq) * scale
    maxq = 2 ** bits - 1
    both = (xmin == 0) & (xmax == 0)
    xmin = torch.where(both, -torch.ones_like(xmin), xmin)
    xmax = torch.where(both, torch.ones_like(xmax), xmax)
    scale = (xmax - xmin) / maxq
    zero = torch.round(-xmin / scale)
    return scale * (torch.clamp(torch.round(x / scale) + zero, 0, maxq) - zero)


class WeightQuantizer:
    """Per output row; symmetric levels -2^(b-1)..2^(b-1)-1 with s = max / (2^(b-1)-1); MSE clip search."""

    def __init__(self, bits, sym, mse, norm=2.4, grid=100, maxshrink=0.8):
        self.bits, self.sym, self.mse = bits, sym, mse
        self.norm, self.grid, self.maxshrink = norm, grid, maxshrink
        self.maxq = 2 ** (bits - 1) - 1 if sym else 2 ** bits - 1

    def qdq(self, x, scale, zero):
        if self.sym:
            return torch.clamp(torch.round(x / scale), -(self.maxq + 1), self.maxq) * scale
        return scale * (torch.clamp(torch.round(x / scale) + zero, 0, self.maxq) - zero)

    def find_params(self, w):
        zeros = torch.zeros(w.shape[0], dtype=DT)
        xmin = torch.minimum(w.amin(1), zeros)
        xmax = torch.maximum(w.amax(1), zeros)
        if self.sym:
            xmax = torch.maximum(xmin.abs(), xmax).clamp(min=1e-5)
            scale, zero = xmax / self.maxq, torch.zeros_like(xmax)
        else:
            both = (xmin == 0) & (xmax == 0)
            xmin[both], xmax[both] = -1.0, 1.0
            scale = (xmax - xmin).clamp(min=1e-5) / self.maxq
            zero = torch.round(-xmin / scale)
        if self.mse:
            best = torch.full([w.shape[0]], float("inf"), dtype=DT)
            for i in range(int(self.maxshrink * self.grid)):
                p = 1 - i / self.grid
                if self.sym:
                    s1 = p * xmax / self.maxq
                    z1 = torch.zeros_like(s1)
                else:
                    s1 = (p * xmax - p * xmin) / self.maxq
                    z1 = torch.round(-(p * xmin) / s1)
                err = (self.qdq(w, s1.unsqueeze(1), z1.unsqueeze(1)) - w).abs().pow(self.norm).sum(1)
                better = err < best
                best[better] = err[better]
                scale[better] = s1[better]
                zero[better] = z1[better]
        self.scale, self.zero = scale.unsqueeze(1), zero.unsqueeze(1)

    def quantize(self, w):
        return self.qdq(w, self.scale, self.zero)


def gptq(w, h, quantizer, blocksize=128, percdamp=0.01):
    """fasterquant per channel with act-order."""
    w = w.clone()
    h = h.clone()
    cols = w.shape[1]
    quantizer.find_params(w)
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = torch.argsort(torch.diag(h), descending=True, stable=True)
    w = w[:, perm]
    h = h[perm][:, perm]
    q = torch.zeros_like(w)
    h[range(cols), range(cols)] += percdamp * torch.mean(torch.diag(h))
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        for i in range(i2 - i1):
            col = w1[:, i]
            d = hinv[i1 + i, i1 + i]
            qc = quantizer.quantize(col.unsqueeze(1)).flatten()
            q[:, i1 + i] = qc
            e = (col - qc) / d
            w1[:, i:] -= e.unsqueeze(1) @ hinv[i1 + i, i1 + i:i2].unsqueeze(0)
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    return q[:, torch.argsort(perm)]


# ---------------------------------------------------------------- model

def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope(x, positions, dh, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=DT) / dh))
    emb = torch.outer(positions.to(DT), inv)
    emb = torch.cat((emb, emb), dim=-1)
    half = x.shape[-1] // 2
    rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * emb.cos() + rot * emb.sin()


def layer(W, l, x, mode, past=None, capture=None):
    """Decoder layer l on x (T, d) after past (K, V) or None; mode: fp, rot (online transforms) or
    quant (transforms and quantizers). Returns the output and the present (K, V)."""
    c = CFG
    h, hkv, eps = c["num_attention_heads"], c["num_key_value_heads"], c["rms_norm_eps"]
    dh = c["hidden_size"] // h
    pre = f"model.layers.{l}."
    T = x.shape[0]
    p = 0 if past is None else past[0].shape[1]
    pos = torch.arange(p, p + T)

    def lin(name, inp):
        if mode != "fp" and name == "mlp.down_proj":
            inp = had(inp)
        if mode != "fp" and name == "self_attn.o_proj":
            inp = had(inp.reshape(T, h, dh).transpose(1, 2)).transpose(1, 2).reshape(T, h * dh)
        if capture is not None:
            capture(name, inp)
        if mode == "quant":
            inp = act_quant(inp, 4, True, 0.9, True)
        return inp @ W[pre + name + ".weight"].T

    n = rms_norm(x, W[pre + "input_layernorm.weight"], eps)
    q = rope(lin("self_attn.q_proj", n).reshape(T, h, dh).transpose(0, 1), pos, dh, c["rope_theta"])
    k = rope(lin("self_attn.k_proj", n).reshape(T, hkv, dh).transpose(0, 1), pos, dh, c["rope_theta"])
    v = lin("self_attn.v_proj", n)
    if mode == "quant":
        v = act_quant(v.reshape(T, hkv, dh), 4, False, 0.95, False).reshape(T, hkv * dh)
    v = v.reshape(T, hkv, dh).transpose(0, 1)
    if mode != "fp":
        q, k = had(q), had(k)
    if mode == "quant":
        k = act_quant(k, 4, False, 0.95, True)
    if past is not None:
        k = torch.cat((past[0], k), dim=1)
        v = torch.cat((past[1], v), dim=1)
    kr = k.repeat_interleave(h // hkv, dim=0)
    vr = v.repeat_interleave(h // hkv, dim=0)
    scores = q @ kr.transpose(1, 2) / math.sqrt(dh)
    mask = torch.arange(p + T).unsqueeze(0) > (pos.unsqueeze(1))
    scores = scores.masked_fill(mask, float("-inf"))
    ctx = (torch.softmax(scores, dim=-1) @ vr).transpose(0, 1).reshape(T, h * dh)
    x = x + lin("self_attn.o_proj", ctx)
    m = rms_norm(x, W[pre + "post_attention_layernorm.weight"], eps)
    gate = lin("mlp.gate_proj", m)
    up = lin("mlp.up_proj", m)
    x = x + lin("mlp.down_proj", torch.nn.functional.silu(gate) * up)
    return x, (k, v)


def forward(W, ids, mode, past=None):
    x = W["model.embed_tokens.weight"][ids]
    present = []
    for l in range(CFG["num_hidden_layers"]):
        x, kv = layer(W, l, x, mode, None if past is None else past[l])
        present.append(kv)
    x = rms_norm(x, W["model.norm.weight"], CFG["rms_norm_eps"])
    return x @ W["lm_head.weight"].T, present


def random_model(seed):
    g = torch.Generator().manual_seed(seed)
    c = CFG
    d, dff, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    dh = d // c["num_attention_heads"]
    hkv = c["num_key_value_heads"]
    W = {"model.embed_tokens.weight": torch.randn(V, d, generator=g, dtype=DT)}
    shapes = {"self_attn.q_proj": (d, d), "self_attn.k_proj": (hkv * dh, d), "self_attn.v_proj": (hkv * dh, d),
              "self_attn.o_proj": (d, d), "mlp.gate_proj": (dff, d), "mlp.up_proj": (dff, d),
              "mlp.down_proj": (d, dff)}
    for l in range(c["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        W[pre + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(d, generator=g, dtype=DT)
        for name in LINEARS:
            W[pre + name + ".weight"] = 0.15 * torch.randn(*shapes[name], generator=g, dtype=DT)
        W[pre + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(d, generator=g, dtype=DT)
    W["model.norm.weight"] = 1 + 0.1 * torch.randn(d, generator=g, dtype=DT)
    W["lm_head.weight"] = 0.15 * torch.randn(V, d, generator=g, dtype=DT)
    W["model.embed_tokens.weight"][:, 5] *= 8  # an outlier channel for the rotation to spread
    return W


def rotate(W, seed):
    """Fold the norms, rotate the residual stream, the MLP output and V/O as described above."""
    c = CFG
    d, h, hkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    dh = d // h
    R = {k: v.clone() for k, v in W.items()}
    Q = random_hadamard(d, seed)
    ones = torch.ones(d, dtype=DT)
    for l in range(c["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        g_in, g_post = R[pre + "input_layernorm.weight"], R[pre + "post_attention_layernorm.weight"]
        for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
            R[pre + name + ".weight"] = (R[pre + name + ".weight"] * g_in) @ Q
        for name in ("mlp.gate_proj", "mlp.up_proj"):
            R[pre + name + ".weight"] = (R[pre + name + ".weight"] * g_post) @ Q
        for name in ("self_attn.o_proj", "mlp.down_proj"):
            R[pre + name + ".weight"] = Q.T @ R[pre + name + ".weight"]
        R[pre + "mlp.down_proj.weight"] = had(R[pre + "mlp.down_proj.weight"])  # each row w <- M_ff w
        wv = R[pre + "self_attn.v_proj.weight"]  # (hkv dh, d): per head, each column's d_h chunk <- M_dh chunk
        R[pre + "self_attn.v_proj.weight"] = had(wv.T.reshape(d, hkv, dh)).reshape(d, hkv * dh).T
        R[pre + "self_attn.o_proj.weight"] = had(R[pre + "self_attn.o_proj.weight"])  # W M_d^T
        R[pre + "input_layernorm.weight"] = ones
        R[pre + "post_attention_layernorm.weight"] = ones
    R["lm_head.weight"] = (R["lm_head.weight"] * R["model.norm.weight"]) @ Q
    R["model.norm.weight"] = ones
    R["model.embed_tokens.weight"] = R["model.embed_tokens.weight"] @ Q
    return R, Q


def quantize(R, calib):
    """gptq_fwrd: layer by layer, groups in true-sequential order, the rotated model's online transforms."""
    Qw = dict(R)
    inps = [Qw["model.embed_tokens.weight"][torch.tensor(s)] for s in calib]
    for l in range(CFG["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        for group in SEQUENTIAL:
            H = {name: None for name in group}
            count = {name: 0 for name in group}

            def capture(name, inp):
                if name not in H:
                    return
                x = inp.reshape(-1, inp.shape[-1]).T
                if H[name] is None:
                    H[name] = torch.zeros(x.shape[0], x.shape[0], dtype=DT)
                H[name] *= count[name] / (count[name] + 1)
                count[name] += 1
                x = math.sqrt(2 / count[name]) * x
                H[name] += x @ x.T

            for x in inps:
                layer(Qw, l, x, "rot", capture=capture)
            for name in group:
                Qw[pre + name + ".weight"] = gptq(Qw[pre + name + ".weight"], H[name],
                                                  WeightQuantizer(4, True, True))
        inps = [layer(Qw, l, x, "rot")[0] for x in inps]
    return Qw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="quant/src/test/resources/oracle/quarot")
    ap.add_argument("--upstream-hadamard", help="the official quarot/hadamard_utils.py, to check the bases against")
    args = ap.parse_args()
    if args.upstream_hadamard:
        check_upstream(args.upstream_hadamard)
    os.makedirs(args.out, exist_ok=True)
    W = random_model(2024)
    names = ["model.embed_tokens.weight"]
    for l in range(CFG["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        names += [pre + "input_layernorm.weight"] + [pre + n + ".weight" for n in LINEARS]
        names += [pre + "post_attention_layernorm.weight"]
    names += ["model.norm.weight", "lm_head.weight"]
    model_fixtures.write_safetensors(os.path.join(args.out, "model.safetensors"), [(n, "F64", W[n]) for n in names])
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
        f.write("\n")

    g = torch.Generator().manual_seed(7)
    V = CFG["vocab_size"]
    calib = torch.randint(3, V, (8, 32), generator=g).tolist()
    probe = [CFG["bos_token_id"]] + torch.randint(3, V, (11,), generator=g).tolist()
    ids = torch.tensor(probe)

    fp_logits, _ = forward(W, ids, "fp")
    R, Q = rotate(W, SEED)
    twin_logits, twin_kv = forward(R, ids, "rot")
    worst = (twin_logits - fp_logits).abs().max().item()
    assert worst <= 1e-9 * fp_logits.abs().max().item(), worst
    Qw = quantize(R, calib)
    q_logits, _ = forward(Qw, ids, "quant")
    _, bos_kv = forward(R, ids[:1], "rot")
    q_intact_logits, _ = forward(Qw, ids[1:], "quant", past=bos_kv)

    x = torch.randn(6, 32, generator=g, dtype=DT) * 2
    x[:, 3] *= 15  # an outlier channel
    x[4] = x[4].abs() + 0.1  # a row of positive values: zero widens its range
    x[5] = 0
    w = torch.randn(8, 64, generator=g, dtype=DT)
    w[2, 9] = 7.0
    w[5] = w[5].abs()
    out = [("rotation_q", Q), ("had_exact_96", had(torch.eye(96, dtype=DT)).T), ("fp_logits", fp_logits),
           ("twin_logits", twin_logits), ("quant_logits", q_logits), ("quant_intactkv_logits", q_intact_logits)]
    for l in range(CFG["num_hidden_layers"]):
        out += [(f"twin_keys.{l}", twin_kv[l][0]), (f"twin_values.{l}", twin_kv[l][1])]
        for n in LINEARS:
            out.append((f"model.layers.{l}.{n}.weight", Qw[f"model.layers.{l}.{n}.weight"]))
    out += [("act_x", x), ("act_sym4_clip90_zero", act_quant(x, 4, True, 0.9, True)),
            ("act_asym4_clip95_zero", act_quant(x, 4, False, 0.95, True)),
            ("act_asym4_clip95_group", act_quant(x, 4, False, 0.95, False)),
            ("act_sym8_group", act_quant(x, 8, True, 1.0, False))]
    out.append(("wq_w", w))
    for tag, bits, sym, mse in (("sym4_mse", 4, True, True), ("sym4", 4, True, False),
                                ("asym4_mse", 4, False, True), ("asym3", 3, False, False)):
        wq = WeightQuantizer(bits, sym, mse)
        wq.find_params(w)
        out.append((f"wq_{tag}", wq.quantize(w)))
    model_fixtures.write_safetensors(os.path.join(args.out, "oracle.safetensors"),
                                     [(n, "F64", t) for n, t in out],
                                     {"made_by": f"tools/oracle/quarot_oracle.py, torch {torch.__version__}"})
    bases = {str(k): ["".join("+" if v > 0 else "-" for v in row) for row in base(k).tolist()]
             for k in (12, 20, 28, 36, 40, 60, 108, 140)}
    with open(os.path.join(args.out, "oracle.json"), "w") as f:
        json.dump({"seed": SEED, "calib": calib, "probe": probe, "hadamard_bases": bases}, f)
        f.write("\n")
    print(f"twin vs original: max |diff| {worst:.3e}; W4A4KV4 vs FP: max |diff| "
          f"{(q_logits - fp_logits).abs().max().item():.3e}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()

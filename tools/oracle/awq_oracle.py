#!/usr/bin/env python3
"""AWQ oracle: llm-awq's run_awq (auto_scale_block, apply_scale, auto_clip_block, apply_clip)
followed by pseudo-quantization of every decoder linear, written here in PyTorch float64 from
the definitions (no llm-awq, no transformers), on two small random LLaMA checkpoints:

  mha  h_kv = h, so the v_proj -> o_proj group is searched; w3 g32; 8 calibration sequences of
       130 tokens (1040 tokens: the clip search samples every 2nd token, 520 of them)
  gqa  h_kv < h, no v_proj -> o_proj group; w4 g16; tied embeddings; 5 sequences of 120 tokens

Each case directory gets config.json, model.safetensors (F32, read as float64 on both sides)
and expected.safetensors (F64 unless noted):
  calib (n, T) I64, test_ids (T') I64     the calibration sequences and a test input ([BOS] first)
  scale.{l}.{qkv,o,gate_up,down}          the searched scales (o absent under GQA)
  ratio.{l}.{group} (1)                   the chosen alpha of each group (diagnostic)
  clip.{l}.{v_proj,o_proj,gate_proj,up_proj,down_proj} (out, in/g)   the chosen max_val
  logits (T', V)                          the AWQ-quantized model on test_ids
  twin_logits (T', V)                     the full-precision model with the scales applied (apply_scale)
  fp_logits (T', V)                       the original model

What is mirrored (llm_awq/quantize/...):
  pre_quant.py::run_awq       layer l's input is the output of the original (unscaled, unclipped)
                              layers 0..l-1; the linears' inputs are recorded on that run
  auto_scale.py::auto_scale_block / _search_module_scale
                              x_max = mean |x| over all tokens; for ratio in 0, 1/20, .., 19/20:
                              s = x_max^ratio clamped to >= 1e-4, s /= sqrt(max s * min s);
                              W <- Q(W * s) / s for the group; loss = mean((org_out - out)^2) over
                              every element of the inspected module's output; strict < keeps the
                              first minimum. Every group is searched on the original layer.
                              Inspected: self_attn (o_proj applied, causal, positions 0..T-1) for
                              q/k/v; o_proj alone; mlp for gate/up; down_proj alone.
  auto_scale.py::apply_scale  scale_ln_fcs / scale_fc_fc in the order qkv, o, gate_up, down, and the
                              recorded inputs of each scaled linear divided by its s
  auto_clip.py::auto_clip_layer / auto_clip_block / apply_clip
                              every linear without "q_" / "k_" in its name; groups of the quantization
                              group size; tokens input_feat[:, 0::n_token // 512]; max_val = amax|w| *
                              (1 - i/20), i < 10; err = mean over tokens of the squared error of the
                              group's partial output; min_errs start at 1e9, strict <
  quantizer.py::pseudo_quantize_tensor   (tools/oracle/quant_fixtures.py::rtn)

Usage (Debian: apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 tools/oracle/awq_oracle.py quant/src/test/resources/oracle/awq
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_fixtures as mf  # noqa: E402  (safetensors writer, float64 LLaMA forward, RoPE, RMSNorm)
import quant_fixtures as qf  # noqa: E402  (pseudo_quantize_tensor)

DT = torch.float64
N_GRID = 20
MAX_SHRINK = 0.5
N_SAMPLE_TOKEN = 512

CASES = [
    # name, d, h, h_kv, L, d_ff, V, tied, bits, group, n_calib, calib_len, seed
    ("mha", 64, 4, 4, 2, 128, 96, False, 3, 32, 8, 130, 2501),
    ("gqa", 64, 8, 2, 2, 96, 80, True, 4, 16, 5, 120, 2502),
]
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


class Layer:
    """One decoder layer on batched hidden states (B, T, d); W maps short names to weights."""

    def __init__(self, W, cfg):
        self.W = W
        self.cfg = cfg

    def self_attn(self, n, W=None):
        W = W or self.W
        cfg = self.cfg
        B, T, d = n.shape
        h, hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        dh = d // h
        pos = torch.arange(T)
        q = (n @ W["self_attn.q_proj"].T).view(B, T, h, dh).transpose(1, 2)
        k = (n @ W["self_attn.k_proj"].T).view(B, T, hkv, dh).transpose(1, 2)
        v = (n @ W["self_attn.v_proj"].T).view(B, T, hkv, dh).transpose(1, 2)
        q, k = mf.rope(q, pos, dh, cfg["rope_theta"]), mf.rope(k, pos, dh, cfg["rope_theta"])
        k = k.repeat_interleave(h // hkv, dim=1)
        v = v.repeat_interleave(h // hkv, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        ctx = torch.softmax(scores, dim=-1) @ v
        self.last_ctx = ctx.transpose(1, 2).reshape(B, T, d)
        return self.last_ctx @ W["self_attn.o_proj"].T

    def mlp(self, m, W=None):
        W = W or self.W
        gate = torch.nn.functional.silu(m @ W["mlp.gate_proj"].T)
        up = m @ W["mlp.up_proj"].T
        self.last_act = gate * up
        return self.last_act @ W["mlp.down_proj"].T

    def forward(self, x):
        """The layer's output and the inputs of its seven linears (the forward hooks of run_awq)."""
        eps = self.cfg["rms_norm_eps"]
        n = mf.rms_norm(x, self.W["input_layernorm"], eps)
        hmid = x + self.self_attn(n)
        m = mf.rms_norm(hmid, self.W["post_attention_layernorm"], eps)
        out = hmid + self.mlp(m)
        feats = {"self_attn.q_proj": n.clone(), "self_attn.k_proj": n.clone(), "self_attn.v_proj": n.clone(),
                 "self_attn.o_proj": self.last_ctx.clone(), "mlp.gate_proj": m.clone(), "mlp.up_proj": m.clone(),
                 "mlp.down_proj": self.last_act.clone()}
        return out, feats


def w_quantize(w, bits, group):
    return qf.rtn(w, bits, group, True)


def search_module_scale(inspect, names, x, W, bits, group):
    """_search_module_scale: inspect(x, weights) is the module's output; names the linears to scale."""
    org_out = inspect(x, W)
    x_max = x.abs().view(-1, x.shape[-1]).mean(0)
    best_error, best_ratio, best_scales = float("inf"), -1, None
    for r in range(N_GRID):
        ratio = r * 1 / N_GRID
        scales = x_max.pow(ratio).clamp(min=1e-4).view(-1)
        scales = scales / (scales.max() * scales.min()).sqrt()
        trial = dict(W)
        for name in names:
            trial[name] = w_quantize(W[name] * scales.view(1, -1), bits, group) / scales.view(1, -1)
        out = inspect(x, trial)
        loss = (org_out - out).pow(2).mean().item()
        if loss < best_error:
            best_error, best_ratio, best_scales = loss, ratio, scales
    if best_ratio == -1:
        raise RuntimeError("no finite loss")
    return best_scales.view(-1), best_ratio


def auto_scale_block(layer, feats, bits, group):
    """The four (prev_op, linears, scales) of a LLaMA layer, in llm-awq's order, all searched on the original layer."""
    W = layer.W
    out = []
    s, r = search_module_scale(lambda x, w: layer.self_attn(x, w),
                               ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
                               feats["self_attn.q_proj"], W, bits, group)
    out.append(("input_layernorm", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"], s, r, "qkv"))
    if W["self_attn.v_proj"].shape == W["self_attn.o_proj"].shape:
        s, r = search_module_scale(lambda x, w: x @ w["self_attn.o_proj"].T, ["self_attn.o_proj"],
                                   feats["self_attn.o_proj"], W, bits, group)
        out.append(("self_attn.v_proj", ["self_attn.o_proj"], s, r, "o"))
    s, r = search_module_scale(lambda x, w: layer.mlp(x, w), ["mlp.gate_proj", "mlp.up_proj"],
                               feats["mlp.gate_proj"], W, bits, group)
    out.append(("post_attention_layernorm", ["mlp.gate_proj", "mlp.up_proj"], s, r, "gate_up"))
    s, r = search_module_scale(lambda x, w: x @ w["mlp.down_proj"].T, ["mlp.down_proj"],
                               feats["mlp.down_proj"], W, bits, group)
    out.append(("mlp.up_proj", ["mlp.down_proj"], s, r, "down"))
    return out


def apply_scale(W, scales_list, feats=None):
    """apply_scale on the layer's weight dict W (in place); feats (if given) divided as input_feat_dict."""
    for prev, names, s, _, _ in scales_list:
        if prev.endswith("layernorm"):  # scale_ln_fcs
            W[prev] = W[prev] / s
            for n in names:
                W[n] = W[n] * s.view(1, -1)
        else:  # scale_fc_fc
            fc1 = W[prev].clone()
            fc1[-s.size(0):] = fc1[-s.size(0):] / s.view(-1, 1)
            W[prev] = fc1
            W[names[0]] = W[names[0]] * s.view(1, -1)
        if feats is not None:
            for n in names:
                feats[n] = feats[n] / s.view(1, -1)


def auto_clip_layer(w, input_feat, bits, group):
    """auto_clip_layer (one batch of output channels: the batching does not change the result).

    Returns max_val (co, n_group, 1), the original max |w| (co, n_group) and the mask of
    admissible shrink steps (co, n_group, 10): see tie_errors."""
    input_feat = input_feat.view(-1, input_feat.shape[-1])
    input_feat = input_feat.reshape(1, input_feat.shape[0], -1, group)
    step = max(1, input_feat.shape[1] // N_SAMPLE_TOKEN)  # upstream: the step alone (0 below 512 tokens)
    input_feat = input_feat[:, 0::step]
    w = w.reshape(w.shape[0], 1, -1, group)
    org_max_val = w.abs().amax(dim=-1, keepdim=True)
    best_max_val = org_max_val.clone()
    min_errs = torch.ones_like(org_max_val) * 1e9
    org_out = (input_feat * w).sum(dim=-1)
    lo_errs, hi_errs = [], []
    for i_s in range(int(MAX_SHRINK * N_GRID)):
        max_val = org_max_val * (1 - i_s / N_GRID)
        cur_w = torch.clamp(w, -max_val, max_val)
        q_w = w_quantize(cur_w, bits, group)
        cur_out = (input_feat * q_w).sum(dim=-1)
        err = (cur_out - org_out).pow(2).mean(dim=1).view(min_errs.shape)
        better = err < min_errs
        min_errs[better] = err[better]
        best_max_val[better] = max_val[better]
        lo, hi = tie_errors(w, cur_w, max_val, input_feat, org_out, err, bits)
        lo_errs.append(lo)
        hi_errs.append(hi)
    admissible = admissible_steps(torch.stack(lo_errs, -1), torch.stack(hi_errs, -1))
    return best_max_val.squeeze(1), org_max_val.squeeze(1).squeeze(-1), admissible.squeeze(1).squeeze(-2)


def tie_errors(w, cur_w, max_val, input_feat, org_out, err, bits):
    """The error range of a shrink step under the rounding tie it may hit.

    Where both extremes of a group are clamped (max w >= m and min w <= -m), the clamped group
    spans [-m, m] exactly, so s = 2m / (2^b - 1) and m / s = (2^b - 1) / 2, a half-integer in
    exact arithmetic: the zero point rint(-min/s) and the rounding of the clamped entries are
    decided by the last bit of the computed quotient, R = 2^(b-1) - 1 or 2^(b-1). Any change in
    the last bits of the weights (another summation order upstream of the search) can flip it.
    Returns the errors with R forced low and high (the computed error where there is no tie)."""
    maxq = 2 ** bits - 1
    both = (w.amax(dim=-1, keepdim=True) >= max_val) & (w.amin(dim=-1, keepdim=True) <= -max_val)
    s = (2 * max_val).clamp(min=1e-5) / maxq
    out = []
    for R in (2 ** (bits - 1) - 1, 2 ** (bits - 1)):
        r = torch.round(cur_w / s)
        r = torch.where(cur_w == max_val, torch.full_like(r, R), r)
        r = torch.where(cur_w == -max_val, torch.full_like(r, -R), r)
        q = (torch.clamp(r + R, 0, maxq) - R) * s
        e = ((input_feat * q).sum(dim=-1) - org_out).pow(2).mean(dim=1).view(err.shape)
        out.append(torch.where(both, e, err))
    # self-check: at a tie the computed error is one of the two
    at_tie = both.expand_as(err)
    gap = torch.minimum((err - out[0]).abs(), (err - out[1]).abs())
    assert bool((gap[at_tie] <= 1e-12 * err[at_tie].abs().clamp(min=1e-300)).all()), "tie model does not reproduce the error"
    return out[0], out[1]


def admissible_steps(lo, hi, slack=1e-9):
    """Mask (..., 10) of the shrink steps that can win the strict-< first-minimum search for some
    resolution of the ties (each step's error anywhere in its [min(lo, hi), max(lo, hi)]) or
    under relative changes of the errors up to `slack` (summation order)."""
    best = torch.minimum(lo, hi)
    worst = torch.maximum(lo, hi)
    tol = slack * worst.amax(dim=-1, keepdim=True)
    n = lo.shape[-1]
    mask = torch.zeros_like(lo, dtype=torch.bool)
    for k in range(n):
        ok = torch.ones_like(best[..., k], dtype=torch.bool)
        for k2 in range(n):
            if k2 == k:
                continue
            if k2 < k:
                ok &= best[..., k] < worst[..., k2] + tol[..., 0]
            else:
                ok &= best[..., k] <= worst[..., k2] + tol[..., 0]
        mask[..., k] = ok
    return mask


def apply_clip(w, max_val):
    shape = w.shape
    w = w.reshape(*max_val.shape[:2], -1)
    return torch.clamp(w, -max_val, max_val).reshape(shape)


def run_awq(W, cfg, calib, bits, group):
    L = cfg["num_hidden_layers"]
    x = W["model.embed_tokens.weight"][calib]  # (n, T, d)
    results = []
    for l in range(L):
        pre = f"model.layers.{l}."
        LW = {k[len(pre):-len(".weight")]: v.clone() for k, v in W.items() if k.startswith(pre)}
        layer = Layer(LW, cfg)
        x_next, feats = layer.forward(x)
        scales_list = auto_scale_block(layer, feats, bits, group)
        apply_scale(LW, scales_list, feats)
        clips = {}
        for name in LINEARS:
            if any(t in name for t in ["q_", "k_", "query", "key", "Wqkv"]):
                continue
            clips[name] = auto_clip_layer(LW[name], feats[name], bits, group)
        results.append((scales_list, clips))
        x = x_next
    return results


def quantized_model(W, cfg, results, bits, group):
    """apply_awq (scales, then clips) and pseudo_quantize_model_weight on a copy of W."""
    Q = dict(W)
    for l, (scales_list, clips) in enumerate(results):
        pre = f"model.layers.{l}."
        LW = {k[len(pre):-len(".weight")]: v.clone() for k, v in W.items() if k.startswith(pre)}
        apply_scale(LW, scales_list)
        for name, (mv, _, _) in clips.items():
            LW[name] = apply_clip(LW[name], mv)
        for name in LINEARS:
            LW[name] = w_quantize(LW[name], bits, group)
        for k, v in LW.items():
            Q[pre + k + ".weight"] = v
    return Q


def twin_model(W, results):
    T = dict(W)
    for l, (scales_list, _) in enumerate(results):
        pre = f"model.layers.{l}."
        LW = {k[len(pre):-len(".weight")]: v.clone() for k, v in W.items() if k.startswith(pre)}
        apply_scale(LW, scales_list)
        for k, v in LW.items():
            T[pre + k + ".weight"] = v
    return T


def make_case(root, name, d, h, hkv, L, dff, V, tied, bits, group, n_calib, calib_len, seed):
    g = torch.Generator().manual_seed(seed)
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
           "hidden_size": d, "intermediate_size": dff, "num_attention_heads": h, "num_key_value_heads": hkv,
           "num_hidden_layers": L, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
           "max_position_embeddings": 160, "tie_word_embeddings": tied, "bos_token_id": 1, "eos_token_id": 2,
           "torch_dtype": "float32"}
    dh = d // h
    shapes = [("model.embed_tokens.weight", (V, d))]
    for l in range(L):
        pre = f"model.layers.{l}."
        shapes += [(pre + "input_layernorm.weight", (d,)), (pre + "self_attn.q_proj.weight", (d, d)),
                   (pre + "self_attn.k_proj.weight", (hkv * dh, d)), (pre + "self_attn.v_proj.weight", (hkv * dh, d)),
                   (pre + "self_attn.o_proj.weight", (d, d)), (pre + "post_attention_layernorm.weight", (d,)),
                   (pre + "mlp.gate_proj.weight", (dff, d)), (pre + "mlp.up_proj.weight", (dff, d)),
                   (pre + "mlp.down_proj.weight", (d, dff))]
    shapes.append(("model.norm.weight", (d,)))
    if not tied:
        shapes.append(("lm_head.weight", (V, d)))
    W = {}
    for n, s in shapes:
        if n.endswith("norm.weight"):
            t = 1.0 + 0.2 * torch.randn(s, generator=g, dtype=DT)
        else:
            t = 0.3 * torch.randn(s, generator=g, dtype=DT)
        W[n] = t
    # outlier channels, so that the searched scales are not all 1: a few input channels of the
    # attention and the MLP blocks, and a few value channels (inputs of o_proj)
    for l in range(L):
        pre = f"model.layers.{l}."
        W[pre + "input_layernorm.weight"][[3, 17, 40]] *= 6
        W[pre + "post_attention_layernorm.weight"][[7, 50]] *= 5
        W[pre + "self_attn.v_proj.weight"][[1, hkv * dh - 3]] *= 5
        W[pre + "mlp.up_proj.weight"][[2, dff // 2]] *= 4
    W = {n: mf.stored(t, "F32") for n, t in W.items()}
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    mf.write_safetensors(os.path.join(out, "model.safetensors"), [(n, "F32", W[n]) for n, _ in shapes])

    calib = torch.randint(3, V, (n_calib, calib_len), generator=g)
    test_ids = torch.cat((torch.tensor([1]), torch.randint(3, V, (15,), generator=g)))
    results = run_awq(W, cfg, calib, bits, group)
    logits, _, _ = mf.forward(quantized_model(W, cfg, results, bits, group), cfg, test_ids)
    twin_logits, _, _ = mf.forward(twin_model(W, results), cfg, test_ids)
    fp_logits, _, _ = mf.forward(W, cfg, test_ids)
    exp = [("calib", "I64", calib), ("test_ids", "I64", test_ids), ("logits", "F64", logits),
           ("twin_logits", "F64", twin_logits), ("fp_logits", "F64", fp_logits)]
    for l, (scales_list, clips) in enumerate(results):
        for _, _, s, r, group_name in scales_list:
            exp.append((f"scale.{l}.{group_name}", "F64", s))
            exp.append((f"ratio.{l}.{group_name}", "F64", torch.tensor([r], dtype=DT)))
        for lin, (mv, m0, ok) in clips.items():
            short = lin.split('.')[1]
            exp.append((f"clip.{l}.{short}", "F64", mv.squeeze(-1)))
            exp.append((f"clip_max_abs.{l}.{short}", "F64", m0))
            exp.append((f"clip_admissible.{l}.{short}", "F64", ok.to(DT)))
            ties = int((ok.sum(-1) > 1).sum())
            print(f"{name} clip.{l}.{short}: {ties} of {ok.shape[0] * ok.shape[1]} entries with several admissible steps")
    meta = {"made_by": f"tools/oracle/awq_oracle.py, torch {torch.__version__}, python {sys.version.split()[0]}",
            "w_bit": str(bits), "q_group_size": str(group)}
    mf.write_safetensors(os.path.join(out, "expected.safetensors"), exp, meta)
    ratios = {f"{l}.{gn}": r for l, (sl, _) in enumerate(results) for _, _, _, r, gn in sl}
    print(name, "chosen alphas", ratios)


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    for c in CASES:
        make_case(root, *c)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()

#!/usr/bin/env python3
"""GPTQ (AutoGPTQ) and AWQ (AutoAWQ GEMM) checkpoints of small random LLaMA models, with the
dequantized weights and the last position's logits of an independent float64 forward, for
intactkv.quant.AutoQuantOracleTest.

Usage (Debian: apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 tools/oracle/autoquant_fixture.py quant/src/test/resources/oracle/autoquant

Writes, under the output folder:
    fp_mha/, fp_gqa/      the full-precision models (config.json, model.safetensors F32)
    <case>/               a Hub-layout quantized checkpoint: config.json with quantization_config,
                          model.safetensors (linears packed, the rest F16 as the Hub holds them) and,
                          for GPTQ, quantize_config.json
    <case>.expected.safetensors   "<weight name>" = the dequantized weight (out, in) of every linear
                          (F32, which holds these values exactly), "input_ids" (I64), "logits" (V,) F64 of
                          the last position

The packing follows the libraries' code (read for facts, written here anew):
  AutoGPTQ 9f7d370 auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py::QuantLinear.pack
     (the 2/4/8-bit loop and the 3-bit 10 + split + 10 + split + 10 layout; zeros -= 1 for format v1),
  AutoAWQ 88e4c76 awq/modules/linear/gemm.py::WQLinear_GEMM.from_linear (order_map [0, 2, 4, 6, 1, 3, 5, 7]).
The dequantization is done independently of the packing, by unpacking as the torch paths do:
  AutoGPTQ qlinear_cuda_old.py::QuantLinear.forward (shifts by wf; zeros + 1, masked at 2/4/8 bits, not at
     3 bits; the 3-bit word-boundary repair of qlinear_cuda.py) and qlinear_cuda.py's
     scales[g_idx] * (weight - zeros[g_idx]),
  AutoAWQ awq/utils/packing_utils.py::unpack_awq, reverse_awq_order, dequantize_gemm,
all in float64 (the products are exact there; torch's float16 forward would round them).
The codes come from a GPTQ-style asymmetric round-to-nearest of the float64 weights with the
scales already rounded to float16 (AutoGPTQ's and AutoAWQ's pack recompute the codes with the
float16 scales the same way), clamped to [0, 2^b - 1]; act-order cases use a random permutation
of the inputs as AutoGPTQ's g_idx. The forward is tools/oracle/model_fixtures.py's float64 LLaMA.
Versions used: Debian python3-torch 1.13, numpy 1.24.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_fixtures import forward  # noqa: E402  (the independent float64 LLaMA forward)

LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
D, DFF, V, L, H, GROUP = 64, 96, 64, 2, 4, 32

# name, fp model, kind (gptq | awq), bits, act-order, seed
CASES = [
    ("gptq_b2_mha_act", "fp_mha", "gptq", 2, True, 11),
    ("gptq_b3_gqa_act", "fp_gqa", "gptq", 3, True, 12),
    ("gptq_b3_mha", "fp_mha", "gptq", 3, False, 13),
    ("gptq_b4_gqa", "fp_gqa", "gptq", 4, False, 14),
    ("gptq_b8_mha_act", "fp_mha", "gptq", 8, True, 15),
    ("awq_b4_gqa", "fp_gqa", "awq", 4, False, 16),
    ("awq_b4_mha", "fp_mha", "awq", 4, False, 17),
]


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype, tensor); F64, F32, F16, I64, I32, little-endian."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    np_types = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    for name, dt, t in tensors:
        a = np.ascontiguousarray(np.asarray(t).astype(np_types[dt]))
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def config(hkv):
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "hidden_size": D, "intermediate_size": DFF, "num_attention_heads": H, "num_key_value_heads": hkv,
            "num_hidden_layers": L, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
            "max_position_embeddings": 128, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}


def shape_of(name, hkv):
    kv = hkv * (D // H)
    return {"self_attn.q_proj": (D, D), "self_attn.k_proj": (kv, D), "self_attn.v_proj": (kv, D),
            "self_attn.o_proj": (D, D), "mlp.gate_proj": (DFF, D), "mlp.up_proj": (DFF, D),
            "mlp.down_proj": (D, DFF)}[name]


def fp_model(root, name, hkv, seed):
    """A random model, float32-representable values (stored F32), as float64 tensors."""
    g = torch.Generator().manual_seed(seed)
    W = {"model.embed_tokens.weight": torch.randn(V, D, generator=g, dtype=torch.float64),
         "lm_head.weight": torch.randn(V, D, generator=g, dtype=torch.float64) * 0.2,
         "model.norm.weight": 1 + 0.1 * torch.randn(D, generator=g, dtype=torch.float64)}
    for l in range(L):
        p = f"model.layers.{l}."
        W[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(D, generator=g, dtype=torch.float64)
        W[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D, generator=g, dtype=torch.float64)
        for lin in LINEARS:
            W[p + lin + ".weight"] = 0.15 * torch.randn(*shape_of(lin, hkv), generator=g, dtype=torch.float64)
    W = {k: v.to(torch.float32).to(torch.float64) for k, v in W.items()}
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(hkv), f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), [(k, "F32", v.numpy()) for k, v in W.items()])
    return W


def quantize(w, bits, g_idx, groups):
    """Asymmetric min-max quantization per (output, group) as GPTQ's Quantizer (xmin <= 0 <= xmax):
    scales (groups, out) rounded to float16, integer zeros (groups, out), codes (out, in)."""
    out, inp = w.shape
    maxq = 2 ** bits - 1
    scales = torch.zeros(groups, out, dtype=torch.float64)
    zeros = torch.zeros(groups, out, dtype=torch.float64)
    for k in range(groups):
        cols = w[:, g_idx == k]
        xmin = torch.clamp(cols.min(dim=1).values, max=0)
        xmax = torch.clamp(cols.max(dim=1).values, min=0)
        s = (xmax - xmin) / maxq
        s16 = s.to(torch.float16).to(torch.float64)
        scales[k] = s16
        zeros[k] = torch.clamp(torch.round(-xmin / s16), 0, maxq)
    # the pack functions' codes: round((W + zeros * scales) / scales) with the float16 scales
    q = torch.round((w + (zeros * scales)[g_idx].T) / scales[g_idx].T)
    q = torch.clamp(q, 0, maxq).to(torch.int64)
    return scales, zeros.to(torch.int64), q


def pack_gptq_stream(values, bits):
    """qlinear_cuda_old.py::QuantLinear.pack's loop over rows of `values` (n, m) uint32 -> (n*bits/32, m)."""
    intweight = values.astype(np.uint32)
    qweight = np.zeros((intweight.shape[0] // 32 * bits, intweight.shape[1]), dtype=np.uint32)
    i = 0
    row = 0
    while row < qweight.shape[0]:
        if bits in [2, 4, 8]:
            for j in range(i, i + (32 // bits)):
                qweight[row] |= intweight[j] << (bits * (j - i))
            i += 32 // bits
            row += 1
        elif bits == 3:
            for j in range(i, i + 10):
                qweight[row] |= intweight[j] << (3 * (j - i))
            i += 10
            qweight[row] |= intweight[i] << 30
            row += 1
            qweight[row] |= (intweight[i] >> 2) & 1
            i += 1
            for j in range(i, i + 10):
                qweight[row] |= intweight[j] << (3 * (j - i) + 1)
            i += 10
            qweight[row] |= intweight[i] << 31
            row += 1
            qweight[row] |= (intweight[i] >> 1) & 0x3
            i += 1
            for j in range(i, i + 10):
                qweight[row] |= intweight[j] << (3 * (j - i) + 2)
            i += 10
            row += 1
    return qweight.astype(np.int32)


def pack_gptq(q, zeros, bits):
    """qweight (in*b/32, out) from codes (out, in); qzeros (G, out*b/32) from zeros - 1 (format v1)."""
    qweight = pack_gptq_stream(q.T.numpy(), bits)
    z = ((zeros.numpy() - 1) & (2 ** bits - 1)).astype(np.uint32)  # zeros -= 1, as uint32 masked to b bits
    qzeros = pack_gptq_stream(z.T, bits).T  # the zeros are packed along the outputs, row by row
    return qweight, np.ascontiguousarray(qzeros)


def unpack_gptq(qweight, qzeros, scales, g_idx, bits):
    """qlinear_cuda_old.py::QuantLinear.forward's torch path, in float64 -> W (out, in)."""
    qw = torch.from_numpy(qweight.astype(np.int64) & 0xffffffff)
    qz = torch.from_numpy(qzeros.astype(np.int64) & 0xffffffff)
    if bits in [2, 4, 8]:
        wf = torch.arange(0, 32, bits, dtype=torch.int64)
        zeros = torch.bitwise_right_shift(qz.unsqueeze(2).expand(-1, -1, 32 // bits), wf.unsqueeze(0))
        zeros = torch.bitwise_and(zeros + 1, 2 ** bits - 1)  # masked after adding one
        zeros = zeros.reshape(zeros.shape[0], -1)
        weight = torch.bitwise_right_shift(qw.unsqueeze(1).expand(-1, 32 // bits, -1), wf.unsqueeze(-1))
        weight = torch.bitwise_and(weight, 2 ** bits - 1).reshape(-1, weight.shape[2])
    else:
        wf = torch.tensor([[0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0],
                           [0, 1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31],
                           [0, 2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0]], dtype=torch.int64)
        zeros = qz.reshape(qz.shape[0], qz.shape[1] // 3, 3, 1).expand(-1, -1, -1, 12)
        zeros = zeros >> wf.unsqueeze(0)
        zeros[:, :, 0, 10] = (zeros[:, :, 0, 10] & 0x3) | ((zeros[:, :, 1, 0] << 2) & 0x4)
        zeros[:, :, 1, 11] = (zeros[:, :, 1, 11] & 0x1) | ((zeros[:, :, 2, 0] << 1) & 0x6)
        zeros = zeros & 0x7
        zeros = torch.cat([zeros[:, :, 0, :11], zeros[:, :, 1, 1:12], zeros[:, :, 2, 1:11]], dim=2)
        zeros = zeros.reshape(zeros.shape[0], -1) + 1  # no mask at 3 bits
        weight = qw.reshape(qw.shape[0] // 3, 3, 1, qw.shape[1]).expand(-1, -1, 12, -1)
        weight = (weight >> wf.unsqueeze(-1)) & 0x7
        weight[:, 0, 10] = (weight[:, 0, 10] & 0x3) | ((weight[:, 1, 0] << 2) & 0x4)
        weight[:, 1, 11] = (weight[:, 1, 11] & 0x1) | ((weight[:, 2, 0] << 1) & 0x6)
        weight = weight & 0x7
        weight = torch.cat([weight[:, 0, :11], weight[:, 1, 1:12], weight[:, 2, 1:11]], dim=1)
        weight = weight.reshape(-1, weight.shape[2])
    gi = torch.from_numpy(g_idx.astype(np.int64))
    w = scales[gi] * (weight.to(torch.float64) - zeros[gi].to(torch.float64))  # qlinear_cuda.py: scales[g_idx] * (weight - zeros[g_idx])
    return w.T.contiguous()


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]


def pack_awq(q, zeros):
    """WQLinear_GEMM.from_linear: intweight (in, out) packed 8 a word in order_map order; zeros likewise."""
    intweight = q.T.contiguous().to(torch.int32)
    qweight = torch.zeros((intweight.shape[0], intweight.shape[1] // 8), dtype=torch.int32)
    for col in range(intweight.shape[1] // 8):
        for i in range(8):
            qweight[:, col] |= intweight[:, col * 8 + AWQ_ORDER[i]] << (i * 4)
    z = zeros.to(torch.int32)
    qzeros = torch.zeros((z.shape[0], z.shape[1] // 8), dtype=torch.int32)
    for col in range(z.shape[1] // 8):
        for i in range(8):
            qzeros[:, col] |= z[:, col * 8 + AWQ_ORDER[i]] << (i * 4)
    return qweight.numpy(), qzeros.numpy()


def unpack_awq(qweight, qzeros, scales, group):
    """packing_utils.py::unpack_awq, reverse_awq_order, dequantize_gemm, in float64 -> W (out, in)."""
    qw = torch.from_numpy(qweight.astype(np.int64))
    qz = torch.from_numpy(qzeros.astype(np.int64))
    shifts = torch.arange(0, 32, 4)
    iw = torch.bitwise_right_shift(qw[:, :, None], shifts[None, None, :]).reshape(qw.shape[0], -1)
    iz = torch.bitwise_right_shift(qz[:, :, None], shifts[None, None, :]).reshape(qz.shape[0], -1)
    order = torch.arange(iw.shape[-1]).view(-1, 8)[:, AWQ_REVERSE_ORDER].view(-1)
    iw, iz = iw[:, order] & 0xf, iz[:, order] & 0xf
    s = scales.repeat_interleave(group, dim=0)
    iz = iz.repeat_interleave(group, dim=0)
    return ((iw - iz).to(torch.float64) * s).T.contiguous()


def make_case(root, name, fp_name, fpW, hkv, kind, bits, act, seed):
    g = torch.Generator().manual_seed(seed)
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    tensors, expected, W = [], [], {}
    for k in ["model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"] + [
            f"model.layers.{l}.{n}_layernorm.weight" for l in range(L) for n in ("input", "post_attention")]:
        v16 = fpW[k].to(torch.float16)
        tensors.append((k, "F16", v16.numpy()))
        W[k] = v16.to(torch.float64)
    for l in range(L):
        for lin in LINEARS:
            name_w = f"model.layers.{l}.{lin}"
            w = fpW[name_w + ".weight"]
            out, inp = w.shape
            groups = inp // GROUP
            if act:
                g_idx = (torch.argsort(torch.randperm(inp, generator=g)) // GROUP).numpy().astype(np.int32)
            else:
                g_idx = (np.arange(inp) // GROUP).astype(np.int32)
            scales, zeros, q = quantize(w, bits, torch.from_numpy(g_idx.astype(np.int64)), groups)
            if kind == "gptq":
                qweight, qzeros = pack_gptq(q, zeros, bits)
                deq = unpack_gptq(qweight, qzeros, scales, g_idx, bits)
                tensors += [(name_w + ".qweight", "I32", qweight), (name_w + ".qzeros", "I32", qzeros),
                            (name_w + ".scales", "F16", scales.to(torch.float16).numpy()),
                            (name_w + ".g_idx", "I32", g_idx)]
            else:
                qweight, qzeros = pack_awq(q, zeros)
                deq = unpack_awq(qweight, qzeros, scales, GROUP)
                tensors += [(name_w + ".qweight", "I32", qweight), (name_w + ".qzeros", "I32", qzeros),
                            (name_w + ".scales", "F16", scales.to(torch.float16).numpy())]
            # the unpacked codes must be the packed ones: the reference dequantization of the codes directly
            gi = torch.from_numpy(g_idx.astype(np.int64))
            direct = (q.to(torch.float64) - zeros[gi].T.to(torch.float64)) * scales[gi].T
            assert torch.equal(direct, deq), name_w
            W[name_w + ".weight"] = deq
            # an integer of at most 9 bits times a float16 has at most 20 significant bits: float32 holds it exactly
            assert torch.equal(deq.to(torch.float32).to(torch.float64), deq), name_w
            expected.append((name_w + ".weight", "F32", deq.numpy()))
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    cfg = config(hkv)
    cfg["torch_dtype"] = "float16"
    if kind == "gptq":
        qc = {"bits": bits, "group_size": GROUP, "damp_percent": 0.01, "desc_act": act, "static_groups": False,
              "sym": False, "true_sequential": True, "model_name_or_path": None, "model_file_base_name": "model",
              "quant_method": "gptq", "checkpoint_format": "gptq"}
        with open(os.path.join(d, "quantize_config.json"), "w") as f:
            json.dump(qc, f, indent=2)
    else:
        qc = {"quant_method": "awq", "zero_point": True, "group_size": GROUP, "bits": 4, "version": "gemm",
              "modules_to_not_convert": None}
    cfg["quantization_config"] = qc
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ids = torch.randint(3, V, (12,), generator=g)
    ids[0] = 1
    logits, _, _ = forward(W, cfg, ids)
    expected += [("input_ids", "I64", ids.numpy()), ("logits", "F64", logits[-1].numpy())]
    write_safetensors(os.path.join(root, name + ".expected.safetensors"), expected)


def main():
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    fps = {"fp_mha": (fp_model(root, "fp_mha", H, 1), H), "fp_gqa": (fp_model(root, "fp_gqa", 2, 2), 2)}
    for name, fp_name, kind, bits, act, seed in CASES:
        fpW, hkv = fps[fp_name]
        make_case(root, name, fp_name, fpW, hkv, kind, bits, act, seed)
        print("wrote", name)


if __name__ == "__main__":
    main()

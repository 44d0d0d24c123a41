#!/usr/bin/env python3
"""Golden fixtures for the quantizers, written from the official formulas in PyTorch float64:
AWQ's pseudo_quantize_tensor (RTN, asymmetric and symmetric), OmniQuant's dynamic
UniformAffineQuantizer (asymmetric) and QuaRot's symmetric activation quantizer with clip
ratios, and GPTQ (AutoGPTQ 0.6 fasterquant: act-order, blocks of 128, damp 0.01, groups)
for one layer from a fixed Hessian.

Usage: /usr/bin/python3 tools/oracle/quant_fixtures.py quant/src/test/resources/oracle/quant.safetensors
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_fixtures  # noqa: E402  (its safetensors writer)

DT = torch.float64


def write_safetensors(path, tensors, meta):
    """All tensors as F64 through the model oracle's writer (one implementation of the format)."""
    model_fixtures.write_safetensors(path, [(n, "F64", t) for n, t in tensors], meta)


def rtn(w, n_bit, group, zero_point):
    shape = w.shape
    w = w.reshape(-1, group)
    if zero_point:
        max_val, min_val = w.amax(dim=1, keepdim=True), w.amin(dim=1, keepdim=True)
        max_int, min_int = 2 ** n_bit - 1, 0
        scales = (max_val - min_val).clamp(min=1e-5) / max_int
        zeros = (-torch.round(min_val / scales)).clamp_(min_int, max_int)
    else:
        max_val = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-5)
        max_int, min_int = 2 ** (n_bit - 1) - 1, -(2 ** (n_bit - 1))
        scales = max_val / max_int
        zeros = 0
    w = (torch.clamp(torch.round(w / scales) + zeros, min_int, max_int) - zeros) * scales
    return w.reshape(shape)


def dynamic_asym(x, bits, clip):
    xmax = x.amax(-1, keepdim=True) * clip
    xmin = x.amin(-1, keepdim=True) * clip
    qmax = 2 ** bits - 1
    scale = ((xmax - xmin) / qmax).clamp(min=1e-5, max=1e4)
    zero = (-xmin / scale).clamp(min=-1e4, max=1e4).round()
    q = torch.clamp(torch.round(x / scale) + zero, 0, qmax)
    return (q - zero) * scale


def dynamic_sym(x, bits, clip):
    maxq = 2 ** (bits - 1) - 1
    xmax = torch.maximum(x.amax(-1, keepdim=True).abs(), x.amin(-1, keepdim=True).abs()) * clip
    scale = xmax.clamp(min=1e-5) / maxq
    return torch.clamp(torch.round(x / scale), -(maxq + 1), maxq) * scale


class Quantizer:
    def __init__(self, bits, sym):
        self.maxq = 2 ** bits - 1
        self.sym = sym

    def find_params(self, x):
        tmp = torch.zeros(x.shape[0], dtype=DT)
        xmin = torch.minimum(x.min(1)[0], tmp)
        xmax = torch.maximum(x.max(1)[0], tmp)
        if self.sym:
            xmax = torch.maximum(torch.abs(xmin), xmax)
            neg = xmin < 0
            xmin[neg] = -xmax[neg]
        both = (xmin == 0) & (xmax == 0)
        xmin[both], xmax[both] = -1, +1
        self.scale = ((xmax - xmin) / self.maxq).unsqueeze(1)
        if self.sym:
            self.zero = torch.full_like(self.scale, (self.maxq + 1) / 2)
        else:
            self.zero = torch.round(-xmin / self.scale.squeeze(1)).unsqueeze(1)

    def quantize(self, x):
        q = torch.clamp(torch.round(x / self.scale) + self.zero, 0, self.maxq)
        return self.scale * (q - self.zero)


def gptq(W, H, bits, group, sym, blocksize=128, percdamp=0.01):
    W = W.clone()
    H = H.clone()
    cols = W.shape[1]
    qz = Quantizer(bits, sym)
    if group == -1:
        qz.find_params(W)
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    perm = torch.argsort(torch.diag(H), descending=True, stable=True)
    W = W[:, perm]
    H = H[perm][:, perm]
    invperm = torch.argsort(perm)
    Q = torch.zeros_like(W)
    damp = percdamp * torch.mean(torch.diag(H))
    H[range(cols), range(cols)] += damp
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    H = torch.linalg.cholesky(H, upper=True)
    Hinv = H
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if group != -1 and (i1 + i) % group == 0:
                qz.find_params(W[:, (i1 + i):(i1 + i + group)])
            q = qz.quantize(w.unsqueeze(1)).flatten()
            Q1[:, i] = q
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return Q[:, invperm]


def main():
    g = torch.Generator().manual_seed(7)
    w = torch.randn(16, 256, generator=g, dtype=DT)
    w[3, 5] = 9.0  # an outlier
    x = torch.randn(6, 4, 32, generator=g, dtype=DT) * 2
    x[..., 7] *= 20  # an outlier channel
    out = [("w", w), ("rtn_w3g128", rtn(w, 3, 128, True)), ("rtn_w4g32", rtn(w, 4, 32, True)),
           ("rtn_w4g64_sym", rtn(w, 4, 64, False)), ("rtn_w2_channel", rtn(w, 2, 256, True)), ("x", x),
           ("dyn_asym4", dynamic_asym(x, 4, 1.0)), ("dyn_asym4_clip95", dynamic_asym(x, 4, 0.95)),
           ("dyn_asym8", dynamic_asym(x, 8, 1.0)), ("dyn_sym4_clip90", dynamic_sym(x, 4, 0.9))]
    # GPTQ: a 12 x 384 layer (three blocks of 128 with a remainder-free split) and a Hessian of
    # correlated inputs with one dead input
    gw = torch.randn(12, 384, generator=g, dtype=DT)
    feats = torch.randn(600, 384, generator=g, dtype=DT) @ (torch.eye(384, dtype=DT)
                                                            + 0.3 * torch.randn(384, 384, generator=g, dtype=DT))
    feats[:, 11] = 0
    H = 2 / 600 * feats.T @ feats
    out += [("gptq_w", gw), ("gptq_h", H), ("gptq_w4g128", gptq(gw, H, 4, 128, False)),
            ("gptq_w3g64", gptq(gw, H, 3, 64, False)), ("gptq_w4_sym_channel", gptq(gw, H, 4, -1, True))]
    write_safetensors(sys.argv[1], out, {"made_by": f"tools/oracle/quant_fixtures.py, torch {torch.__version__}"})


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()

#!/usr/bin/env python3
"""Writes the PyTorch oracle for LLaMA-3's RoPE scaling (rope_scaling.rope_type = "llama3"):
inv_freq and the cos/sin tables at a few positions, in float64, following the steps of Hugging
Face's modeling_rope_utils._compute_llama3_parameters with torch operations (torch.where on the
wavelength bands). The Java test (RopeScalingTest) compares against the committed JSON.

    /usr/bin/python3 tools/rope/llama3_fixture.py > model/src/test/resources/rope/llama3.json
"""
import json
import math

import torch


def llama3_inv_freq(head_dim, theta, factor, low, high, old_len):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    low_wavelen = old_len / low
    high_wavelen = old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


cases = []
for head_dim, theta, factor, low, high, old_len in [(128, 500000.0, 8.0, 1.0, 4.0, 8192),  # LLaMA-3.1/3.2
                                                     (16, 10000.0, 4.0, 1.0, 4.0, 64)]:
    f = llama3_inv_freq(head_dim, theta, factor, low, high, old_len)
    positions = [0, 1, 37, 1000, 100000]
    pos = torch.tensor(positions, dtype=torch.float64)
    freqs = torch.outer(pos, f)
    emb = torch.cat((freqs, freqs), dim=-1)
    cases.append({"head_dim": head_dim, "rope_theta": theta, "factor": factor, "low_freq_factor": low,
                  "high_freq_factor": high, "original_max_position_embeddings": old_len,
                  "inv_freq": f.tolist(), "positions": positions, "cos": emb.cos().tolist(), "sin": emb.sin().tolist()})
print(json.dumps({"producer": "torch " + torch.__version__, "cases": cases}))

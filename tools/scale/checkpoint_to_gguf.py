#!/usr/bin/env python3
"""A LLaMA safetensors checkpoint (one model.safetensors; F32, F16 or BF16 matrices) as a llama.cpp GGUF file, the
matrices kept in their dtype, as convert_hf_to_gguf.py converts a LLaMA: its tensor names, llama.* metadata, and the
q_proj/k_proj rows permuted by LlamaModel.permute (n_head for Q, n_head_kv for K); norm vectors in F32; the
vocabulary of the checkpoint's tokenizer.json as tools/oracle/gguf_fixtures.py spm_vocab writes it (a placeholder
vocabulary of the config's size, <unk> <s> </s> t3 t4 ..., when there is none).

For measuring `--model FILE.gguf` on the random checkpoints of tools/scale/random_checkpoint.py (docs/SCALE.md,
session 25). The tensors are read through a memory map, so a TinyLlama-shaped checkpoint converts in under a
minute with little memory beyond the permuted q/k matrices.

With --type Q8_0 or Q4_0 every matrix is quantized to that ggml type by gguf-py's gguf.quants.quantize (numpy;
a few minutes for TinyLlama's shape) instead: a quantized GGUF to load (`--model FILE.gguf`), not an oracle.

Usage (gguf-py from a llama.cpp checkout; numpy):
    PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 tools/scale/checkpoint_to_gguf.py DIR OUT.gguf [--type Q8_0|Q4_0]
"""
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle"))
from gguf_fixtures import finish, gguf_name, llama_metadata, permute, placeholder_vocab, spm_vocab  # noqa: E402

NUMPY = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}  # BF16 as its 16-bit patterns, written raw


def main():
    src, out = sys.argv[1], sys.argv[2]
    qtype = T[sys.argv[sys.argv.index("--type") + 1]] if "--type" in sys.argv else None
    assert qtype in (None, T.Q8_0, T.Q4_0), "--type must be Q8_0 or Q4_0"
    cfg = json.load(open(os.path.join(src, "config.json")))
    path = os.path.join(src, "model.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    h, hkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    w = gguf.GGUFWriter(out, "llama")
    llama_metadata(w, cfg)
    tokenizer = os.path.join(src, "tokenizer.json")
    if os.path.exists(tokenizer):
        spm_vocab(w, tokenizer)
    else:
        placeholder_vocab(w, cfg["vocab_size"])
    for name in sorted(k for k in header if k != "__metadata__"):
        e = header[name]
        a, b = e["data_offsets"]
        t = data[a:b].view(NUMPY[e["dtype"]]).reshape(e["shape"])
        if t.ndim == 1:
            t = (t.astype(np.uint32) << 16).view("<f4") if e["dtype"] == "BF16" else t.astype(np.float32)
        elif name.endswith("q_proj.weight"):
            t = permute(t, h, h)
        elif name.endswith("k_proj.weight"):
            t = permute(t, h, hkv)
        if qtype is not None and t.ndim == 2:
            f32 = (t.astype(np.uint32) << 16).view("<f4") if t.dtype == np.uint16 else t.astype(np.float32)
            w.add_tensor(gguf_name(name), quants.quantize(f32, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(gguf_name(name), t, raw_dtype=T.BF16 if t.dtype == np.uint16 else None)
    finish(w)
    print("wrote", out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Seeded float32 rows with the hard cases of ggml's quantizers, and ggml's own bytes for them.

Usage (run by tools/gguf/quant_fixtures.sh, which builds the harness first):
    /usr/bin/python3 tools/gguf/quant_fixtures.py QUANT_ROWS_BINARY OUT_DIR LLAMA_CPP_COMMIT

Writes into OUT_DIR:
  input.f32    NROWS x N_PER_ROW little-endian float32 values (one row = two k-quant super-blocks
               = sixteen 32-element blocks), row kinds cycled through KINDS below.
  TYPE.bin     for each type in TYPES: what ggml_quantize_chunk(type, src, dst, 0, NROWS,
               N_PER_ROW, NULL) writes for input.f32 (through tools/gguf/quant_rows.c).
  fixtures.json  the shape, the row kinds in order, the types, the llama.cpp commit.
Needs numpy only; seeded (numpy default_rng(20261206)).
"""
import json
import os
import subprocess
import sys

import numpy as np

NROWS = 96
N_PER_ROW = 512
TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
         "IQ4_NL", "F16", "BF16"]


def blocks(rng, n, f):
    """n values made 32 at a time by f(rng, block_index)."""
    return np.concatenate([f(rng, b) for b in range(n // 32)])


def one_huge(rng):
    x = rng.normal(0, 0.02, N_PER_ROW)
    for sb in range(N_PER_ROW // 256):
        x[sb * 256 + rng.integers(256)] = 1e4 * rng.choice([-1, 1])
    return x


def ties_q4(rng):
    # per block: max |x| = 8 at a negative value, so Q4_0's d = 1 and x*id + 8.5 lands on integers
    def blk(rng, b):
        v = rng.integers(-16, 16, 32) / 2.0
        v[rng.integers(32)] = -8.0
        return v
    return blocks(rng, N_PER_ROW, blk)


def ties_q8(rng):
    # amax 127 gives Q8_0's d = 1: the halves are roundf ties
    def blk(rng, b):
        v = rng.integers(-254, 255, 32) / 2.0
        v[rng.integers(32)] = 127.0
        return v
    return blocks(rng, N_PER_ROW, blk)


KINDS = {
    "gaussian": lambda r: r.normal(0, 1, N_PER_ROW),
    "gaussian_0.02": lambda r: r.normal(0, 0.02, N_PER_ROW),
    "all_zero": lambda r: np.zeros(N_PER_ROW),
    "zero_blocks": lambda r: blocks(r, N_PER_ROW, lambda r, b: np.zeros(32) if b % 2 == 0 else r.normal(0, 1, 32)),
    "zero_subblocks": lambda r: blocks(r, N_PER_ROW, lambda r, b: np.concatenate([np.zeros(16), r.normal(0, 0.1, 16)])),
    "one_huge": one_huge,
    "all_negative": lambda r: -np.abs(r.normal(0, 1, N_PER_ROW)),
    "all_positive": lambda r: np.abs(r.normal(0, 1, N_PER_ROW)) + 0.1,
    "tiny_1e-20": lambda r: r.normal(0, 1e-20, N_PER_ROW),
    "near_group_eps_1e-15": lambda r: r.normal(0, 1e-15, N_PER_ROW),
    "denormal": lambda r: r.normal(0, 1e-39, N_PER_ROW),
    "equal_per_block": lambda r: blocks(r, N_PER_ROW, lambda r, b: np.full(32, r.normal(0, 1))),
    "equal_row": lambda r: np.full(N_PER_ROW, 0.375),
    "student_t2": lambda r: r.standard_t(2, N_PER_ROW),
    "cauchy": lambda r: r.standard_cauchy(N_PER_ROW),
    "ties_q4": ties_q4,
    "ties_q8": ties_q8,
    "small_integers": lambda r: r.integers(-4, 4, N_PER_ROW).astype(np.float64),
    "one_hot": lambda r: blocks(r, N_PER_ROW, lambda r, b: np.eye(32)[r.integers(32)] * r.normal(0, 1)),
    "large_1e5": lambda r: r.normal(0, 1e5, N_PER_ROW),
    "ramp": lambda r: np.linspace(-1, 1, N_PER_ROW) * r.uniform(0.5, 2),
    "mixed_block_scales": lambda r: blocks(r, N_PER_ROW, lambda r, b: r.normal(0, 10 ** r.uniform(-6, 3), 32)),
    "uniform_0_1": lambda r: r.uniform(0, 1, N_PER_ROW),
    "fp16_edges": lambda r: r.choice([65504.0, -65504.0, 6.1e-5, 5.96e-8, 1.0, -2.0], N_PER_ROW)
                            * r.choice([1, 0.5, 1.0009765625], N_PER_ROW),
}


def ggml_name(t):
    """ggml_type_name's spelling: lower case, but the k-quants keep their capital K (q4_K)."""
    return t.lower()[:-1] + "K" if t.endswith("_K") else t.lower()


def main():
    harness, out_dir, commit = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20261206)
    names = list(KINDS)
    kinds = [names[i % len(names)] for i in range(NROWS)]
    x = np.stack([KINDS[k](rng) for k in kinds]).astype(np.float32)
    assert np.all(np.isfinite(x))
    src = os.path.join(out_dir, "input.f32")
    x.astype("<f4").tofile(src)
    for t in TYPES:
        subprocess.run([harness, ggml_name(t),
                        str(NROWS), str(N_PER_ROW), src, os.path.join(out_dir, t + ".bin")], check=True)
    meta = {"llama_cpp_commit": commit, "nrows": NROWS, "n_per_row": N_PER_ROW, "types": TYPES,
            "row_kinds": kinds, "seed": 20261206,
            "call": "ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, NULL)"}
    with open(os.path.join(out_dir, "fixtures.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

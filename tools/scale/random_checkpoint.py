#!/usr/bin/python3
"""Writes a random LLaMA-shaped checkpoint (config.json + model.safetensors) one tensor at a time.

For measuring memory and time on real shapes without downloading weights: the header is written
first from the shapes alone, then each tensor is drawn (torch.randn, seeded, std 0.02; norms 1),
converted to the dtype and appended, so the writer never holds more than one tensor.

    /usr/bin/python3 tools/scale/random_checkpoint.py tinyllama /tmp/me-tinyllama [bf16|f16|f32] [--layers N]

--layers N: the shape with N decoder layers instead of its own number, every other dimension unchanged (for
measuring what does or does not grow with depth, e.g. GPTQ's peak memory on a 2- and a 4-layer LLaMA-2-7B shape).

Shapes: tinyllama (22 layers, d 2048, d_ff 5632, h 32, h_kv 4, V 32000; 2.2 GB in BF16), llama2-7b (32 layers,
d 4096, d_ff 11008, h 32, h_kv 32, V 32000; 13.5 GB), llama3-8b (32 layers, d 4096, d_ff 14336, h 32, h_kv 8,
V 128256, rope_theta 500000, max_position_embeddings 8192; 16.1 GB), llama2-13b (40 layers, d 5120, d_ff 13824,
h 40, h_kv 40, V 32000; 26.0 GB, more than a 24 GB machine's memory: for `ppl --layer-by-layer`). Never commit
the output.

A tokenizer.json is written beside them: the built-in model's BPE (examples/default-model, 1024 tokens) with
unused entries <unusedN> up to the shape's vocabulary, so that commands that tokenize text (ppl) accept it
(they refuse a tokenizer whose size does not fit the model's vocabulary); text only ever uses the first 1024
ids. `random_checkpoint.py tokenizer DIR` writes only that file, for DIR's config.json.
"""
import json
import struct
import sys

import torch

SHAPES = {
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_attention_heads=32, num_key_value_heads=4,
                      num_hidden_layers=22, vocab_size=32000),
    "llama2-7b": dict(hidden_size=4096, intermediate_size=11008, num_attention_heads=32, num_key_value_heads=32,
                      num_hidden_layers=32, vocab_size=32000, max_position_embeddings=4096),
    "llama2-13b": dict(hidden_size=5120, intermediate_size=13824, num_attention_heads=40, num_key_value_heads=40,
                       num_hidden_layers=40, vocab_size=32000, max_position_embeddings=4096),
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
                      num_hidden_layers=32, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192),
}
# bos/eos stay 1/2 for every shape, LLaMA-3's too: the tokenizer.json written beside the weights is the built-in
# one padded to the vocabulary, whose <s> and </s> are 1 and 2 (LLaMA-3's own 128000/128001 belong to its own
# vocabulary, which is not in this repository); with 128000 the tokenizer check refuses the pair.
# written for every shape unless the shape sets its own
DEFAULTS = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu", rms_norm_eps=1e-5,
                rope_theta=10000.0, max_position_embeddings=2048, tie_word_embeddings=False, bos_token_id=1,
                eos_token_id=2)
DTYPES = {"bf16": ("BF16", torch.bfloat16, "bfloat16"), "f16": ("F16", torch.float16, "float16"),
          "f32": ("F32", torch.float32, "float32")}


def tensors(c):
    d, ff, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    kv = c["num_key_value_heads"] * (d // c["num_attention_heads"])
    yield "model.embed_tokens.weight", (v, d)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (d,)
        for n, s in (("self_attn.q_proj", (d, d)), ("self_attn.k_proj", (kv, d)), ("self_attn.v_proj", (kv, d)),
                     ("self_attn.o_proj", (d, d)), ("mlp.gate_proj", (ff, d)), ("mlp.up_proj", (ff, d)),
                     ("mlp.down_proj", (d, ff))):
            yield p + n + ".weight", s
        yield p + "post_attention_layernorm.weight", (d,)
    yield "model.norm.weight", (d,)
    yield "lm_head.weight", (v, d)


def write_tokenizer(out, vocab_size):
    """tokenizer.json in out: the built-in model's BPE padded with unused tokens to vocab_size entries."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "examples", "default-model", "tokenizer.json")) as f:
        t = json.load(f)
    vocab = t["model"]["vocab"]
    for i in range(len(vocab), vocab_size):
        vocab[f"<unused{i}>"] = i
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(t, f)


def layers_option(args):
    """Removes `--layers N` from args and returns N (None when absent); exits with a usage line when N is not a
    positive integer."""
    if "--layers" not in args:
        return None
    i = args.index("--layers")
    if i + 1 >= len(args) or not args[i + 1].isdigit() or int(args[i + 1]) < 1:
        sys.exit("random_checkpoint.py: --layers needs a positive whole number of decoder layers, e.g. --layers 2")
    n = int(args[i + 1])
    del args[i:i + 2]
    return n


def main():
    layers = layers_option(sys.argv)
    if len(sys.argv) == 3 and sys.argv[1] == "tokenizer":
        import os
        with open(os.path.join(sys.argv[2], "config.json")) as f:
            write_tokenizer(sys.argv[2], json.load(f)["vocab_size"])
        return
    if len(sys.argv) < 3 or sys.argv[1] not in SHAPES or (len(sys.argv) > 3 and sys.argv[3] not in DTYPES):
        sys.exit(f"usage: random_checkpoint.py {{{'|'.join(SHAPES)}}} OUT_DIR [{'|'.join(DTYPES)}]"
                 " (or: random_checkpoint.py tokenizer DIR)")
    shape, out = sys.argv[1], sys.argv[2]
    st_name, torch_dtype, hf_name = DTYPES[sys.argv[3] if len(sys.argv) > 3 else "bf16"]
    c = dict(DEFAULTS)
    c.update(SHAPES[shape])
    if layers is not None:
        c.update(num_hidden_layers=layers)
    c.update(torch_dtype=hf_name)
    import os
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    size = torch.tensor([], dtype=torch_dtype).element_size()
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, s in tensors(c):
        n = 1
        for x in s:
            n *= x
        header[name] = {"dtype": st_name, "shape": list(s), "data_offsets": [offset, offset + n * size]}
        offset += n * size
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    gen = torch.Generator().manual_seed(0)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, s in tensors(c):
            t = torch.ones(s) if len(s) == 1 else torch.randn(s, generator=gen) * 0.02
            f.write(t.to(torch_dtype).contiguous().view(torch.int16 if size == 2 else torch.int32).numpy().tobytes())
    write_tokenizer(out, c["vocab_size"])
    print(f"wrote {out}: {offset / 1e9:.2f} GB of {st_name}, and tokenizer.json")


if __name__ == "__main__":
    main()

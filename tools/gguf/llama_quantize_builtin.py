#!/usr/bin/env python3
"""Records what llama-quantize wrote for the built-in model: per output type, per tensor, the
ggml type it chose, its shape and the sha256 of its bytes (LlamaQuantizeBuiltinTest and
--method gguf's type assignment read the JSON). Run by tools/gguf/llama_quantize_builtin.sh.

Usage: PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 llama_quantize_builtin.py OUT.json COMMIT FLAGS \
           VERSION INPUT TYPE=FILE.gguf [TYPE=FILE.gguf ...]
(INPUT: a sentence saying which F32 GGUF was quantized.)
"shape" is ggml's ne order: ne[0] (the row length, the Hugging Face in-features) first.
"""
import hashlib
import json
import sys

from gguf import GGUFReader


def tensors(path):
    r = GGUFReader(path)
    out = []
    with open(path, "rb") as f:
        for t in r.tensors:
            f.seek(t.data_offset)
            data = f.read(t.n_bytes)
            out.append({"name": t.name, "type": t.tensor_type.name, "shape": [int(d) for d in t.shape],
                        "sha256": hashlib.sha256(data).hexdigest()})
    return out


def main():
    dst, commit, flags, version, source = sys.argv[1:6]
    outputs = {}
    for arg in sys.argv[6:]:
        name, path = arg.split("=", 1)
        outputs[name] = tensors(path)
    doc = {"llama_cpp_commit": commit, "llama_quantize_version": version, "build_flags": flags,
           "input": source,
           "shape_order": "ggml ne: [row length, rows]",
           "outputs": outputs}
    # one tensor a line: small diffs, easy to grep
    lines = ["{"]
    for k in ("llama_cpp_commit", "llama_quantize_version", "build_flags", "input", "shape_order"):
        lines.append(" %s: %s," % (json.dumps(k), json.dumps(doc[k])))
    lines.append(' "outputs": {')
    names = list(outputs)
    for i, name in enumerate(names):
        lines.append("  %s: [" % json.dumps(name))
        rows = [json.dumps(t, separators=(", ", ": ")) for t in outputs[name]]
        lines.append(",\n".join("   " + r for r in rows))
        lines.append("  ]" + ("," if i + 1 < len(names) else ""))
    lines.append(" }")
    lines.append("}")
    with open(dst, "w") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(dst))  # well-formed


if __name__ == "__main__":
    main()

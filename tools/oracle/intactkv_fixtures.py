#!/usr/bin/env python3
"""IntactKV fixtures: on the gqa_f32 random checkpoint of model_fixtures.py, builds
IntactKV_[B] and IntactKV_[P] (prefix ids given), runs the RTN-quantized model (w3, group 16,
AWQ's formula) with and without the prefix and with a 4-bit KV cache, and computes the
perplexity protocol of eval_utils/ppl.py on a token stream, all in float64.

Usage (the checkpoint is copied next to the output, so the Java test can load it):
    /usr/bin/python3 tools/oracle/intactkv_fixtures.py model/src/test/resources/oracle/model/gqa_f32 \
           intactkv-core/src/test/resources/oracle/intactkv.safetensors
"""
import json
import math
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import model_fixtures as mf  # noqa: E402
import quant_fixtures as qf  # noqa: E402

DT = torch.float64


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        dt = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}[e["dtype"]]
        out[name] = torch.frombuffer(bytearray(data[b:en]), dtype=dt).reshape(e["shape"]).to(
            DT if dt != torch.int64 else torch.int64)
    return out


def ppl(W, cfg, tokens, seqlen, bos, prefix=None, kvq=None):
    """eval_utils/ppl.py on `tokens`; with a prefix (ids, cache, logits) the window's [BOS] is replaced by it."""
    n = tokens.numel() // seqlen
    losses = []
    for i in range(n):
        w = tokens[i * seqlen:(i + 1) * seqlen].clone()
        w[0] = bos
        if prefix is None:
            logits, _, _ = mf.forward(W, cfg, w, kvq=kvq)
        else:
            ids, cache, plog = prefix
            p = ids.numel()
            assert torch.equal(w[:p], ids)
            rest, _, _ = mf.forward(W, cfg, w[p:], past=cache, kvq=kvq)
            logits = torch.cat((plog, rest), dim=0)
        loss = torch.nn.functional.cross_entropy(logits[1:-1], w[2:])
        losses.append(loss)
    return math.exp(torch.stack(losses).mean().item())


def main():
    src, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(src, "config.json")))
    W = read_safetensors(os.path.join(src, "model.safetensors"))
    Wq = dict(W)
    for name, t in W.items():
        if ".layers." in name and name.endswith("proj.weight"):
            Wq[name] = qf.rtn(t, 3, 16, True)
    kv4 = lambda x: qf.dynamic_asym(x, 4, 1.0)  # noqa: E731
    g = torch.Generator().manual_seed(5)
    V = cfg["vocab_size"]
    bos_ids = torch.tensor([1])
    p_ids = torch.cat((bos_ids, torch.randint(3, V, (5,), generator=g)))
    tests = {}
    for tag, ids in (("bos", bos_ids), ("prompt", p_ids)):
        logits, _, cache = mf.forward(W, cfg, ids)
        tests[tag] = (ids, cache, logits)
    x = torch.cat((p_ids, torch.randint(3, V, (7,), generator=g)))
    res = [("prompt_ids", p_ids), ("input_ids", x)]
    for l, (k, v) in enumerate(tests["bos"][1]):
        res += [(f"bos.k.{l}", k), (f"bos.v.{l}", v)]
    for l, (k, v) in enumerate(tests["prompt"][1]):
        res += [(f"prompt.k.{l}", k), (f"prompt.v.{l}", v)]
    res.append(("prompt.logits", tests["prompt"][2]))
    # quantized model on x: without IntactKV, with [P], with [P] and KV4, without and KV4
    q_plain, _, _ = mf.forward(Wq, cfg, x)
    p = p_ids.numel()
    q_p, _, _ = mf.forward(Wq, cfg, x[p:], past=tests["prompt"][1])
    q_p_kv4, _, _ = mf.forward(Wq, cfg, x[p:], past=tests["prompt"][1], kvq=kv4)
    q_kv4, _, _ = mf.forward(Wq, cfg, x, kvq=kv4)
    res += [("q.logits", q_plain), ("q_prompt.logits", torch.cat((tests["prompt"][2], q_p))),
            ("q_prompt_kv4.logits", torch.cat((tests["prompt"][2], q_p_kv4))), ("q_kv4.logits", q_kv4)]
    stream = torch.randint(3, V, (200,), generator=g)
    res.append(("stream", stream))
    vals = [ppl(W, cfg, stream, 32, 1), ppl(Wq, cfg, stream, 32, 1), ppl(Wq, cfg, stream, 32, 1, tests["bos"]),
            ppl(Wq, cfg, stream, 32, 1, kvq=kv4), ppl(Wq, cfg, stream, 32, 1, tests["bos"], kvq=kv4)]
    res.append(("ppl", torch.tensor(vals, dtype=DT)))
    items = [(n, "I64" if t.dtype == torch.int64 else "F64", t) for n, t in res]
    mf.write_safetensors(out, items)
    copy = os.path.join(os.path.dirname(out), "gqa_f32")
    os.makedirs(copy, exist_ok=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copyfile(os.path.join(src, f), os.path.join(copy, f))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()

#!/usr/bin/env python3
"""Golden fixtures for the foundation issue: op outputs and gradients, FP16/BF16 rounding,
and optimiser trajectories, computed with PyTorch in float64.

Usage (Debian: apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 tools/oracle/foundation_fixtures.py \
        > autograd/src/test/resources/oracle/foundation.txt

The Java test intactkv.autograd.TorchOracleTest reads the file; Python is not needed to run
the tests. Format, one record per line:
    case NAME                      starts a case
    tensor KEY DIMS VALUES...      DIMS is comma-separated ('-' for a scalar); values are repr()
    ints KEY VALUES...             integer arguments (indices, targets)
    end                            ends a case
Inputs are in0, in1, ...; the random upstream gradient is G; the forward result is out and
the gradient of sum(out * G) with respect to input i is grad{i}.
"""
import math
import sys

import torch

torch.manual_seed(1234)
DT = torch.float64
out = sys.stdout


def emit_tensor(key, t):
    t = t.detach().to(torch.float64).contiguous()
    dims = ",".join(str(d) for d in t.shape) if t.dim() > 0 else "-"
    vals = " ".join(repr(float(v)) for v in t.reshape(-1).tolist())
    out.write(f"tensor {key} {dims} {vals}\n")


def emit_ints(key, xs):
    out.write(f"ints {key} {' '.join(str(int(x)) for x in xs)}\n")


def case(name, fn, inputs, ints=None):
    """Runs fn(*inputs) with gradients and writes inputs, G, out and every input's grad."""
    leaves = [x.clone().to(DT).requires_grad_(True) for x in inputs]
    y = fn(*leaves)
    g = torch.randn(y.shape, dtype=DT)
    y.backward(g)
    out.write(f"case {name}\n")
    for i, x in enumerate(leaves):
        emit_tensor(f"in{i}", x)
    if ints:
        for k, v in ints.items():
            emit_ints(k, v)
    emit_tensor("G", g)
    emit_tensor("out", y)
    for i, x in enumerate(leaves):
        emit_tensor(f"grad{i}", x.grad if x.grad is not None else torch.zeros_like(x))
    out.write("end\n")


def r(*shape):
    return torch.randn(*shape, dtype=DT)


def pos(*shape):
    return torch.rand(*shape, dtype=DT) * 1.5 + 0.5


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_tables(t, dh, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=DT) / dh))
    freqs = torch.outer(torch.arange(t, dtype=DT), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def main():
    out.write(f"# made by tools/oracle/foundation_fixtures.py with torch {torch.__version__}, "
              f"python {sys.version.split()[0]}\n")
    case("add_broadcast", lambda a, b: a + b, [r(2, 3, 4), r(3, 1)])
    case("sub", lambda a, b: a - b, [r(4), r(2, 4)])
    case("mul_broadcast", lambda a, b: a * b, [r(2, 1, 4), r(3, 1)])
    case("div", lambda a, b: a / b, [r(3, 4), pos(4)])
    case("exp", torch.exp, [r(3, 4)])
    case("log", torch.log, [pos(3, 4)])
    case("sqrt", torch.sqrt, [pos(5)])
    case("rsqrt", torch.rsqrt, [pos(2, 3)])
    case("pow3", lambda a: a.pow(3), [r(4)])
    case("sum_axis1_keep", lambda a: a.sum(1, keepdim=True), [r(2, 3, 4)])
    case("mean_axes02", lambda a: a.mean((0, 2)), [r(2, 3, 4)])
    case("matmul", lambda a, b: a @ b, [r(5, 7), r(7, 3)])
    case("matmul_batched_broadcast", lambda a, b: a @ b, [r(2, 1, 3, 4), r(3, 4, 5)])
    case("matmul_transb", lambda a, b: a @ b.transpose(-1, -2), [r(2, 3, 4), r(2, 5, 4)])
    case("linear", lambda x, w: torch.nn.functional.linear(x, w), [r(2, 3, 8), r(6, 8)])
    case("transpose", lambda a: a.transpose(0, 2), [r(2, 3, 4)])
    case("permute", lambda a: a.permute(1, 2, 0), [r(2, 3, 4)])
    case("slice", lambda a: a[:, 1:3], [r(2, 5, 2)])
    case("concat", lambda a, b: torch.cat((a, b), dim=1), [r(2, 3), r(2, 2)])
    case("softmax", lambda a: torch.softmax(a, -1), [r(3, 7) * 3])
    case("log_softmax", lambda a: torch.log_softmax(a, -1), [r(3, 7) * 3])
    case("logsumexp", lambda a: torch.logsumexp(a, -1, keepdim=True), [r(3, 7) * 3])
    case("softmax_axis0", lambda a: torch.softmax(a, 0), [r(4, 3)])
    case("silu", torch.nn.functional.silu, [r(3, 5)])
    case("sigmoid", torch.sigmoid, [r(6)])
    case("rms_norm", lambda x, w: rms_norm(x, w, 1e-6), [r(2, 3, 8), r(8)])
    cos, sin = rope_tables(5, 8)
    case("rope", lambda x: x * cos + rotate_half(x) * sin, [r(2, 5, 8)])
    emb_ids = [3, 0, 3, 1]
    case("embedding", lambda w: torch.nn.functional.embedding(torch.tensor(emb_ids), w), [r(5, 4)],
         ints={"ids": emb_ids})
    gidx = [[2, 0, 1], [1, 1, 3]]
    case("gather_axis1", lambda a: torch.gather(a, 1, torch.tensor(gidx)), [r(2, 4)],
         ints={"index": sum(gidx, [])})
    ce_t = [2, -100, 0, 4]
    case("cross_entropy", lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(ce_t)), [r(4, 5) * 2],
         ints={"targets": ce_t})
    case("mse", torch.nn.functional.mse_loss, [r(3, 4), r(3, 4)])
    cond = [1, 0, 1, 1]
    case("where", lambda a, b: torch.where(torch.tensor(cond, dtype=torch.bool), a, b), [r(2, 4), r(4)],
         ints={"cond": cond})
    case("clamp", lambda a: torch.clamp(a, -0.5, 0.5), [r(3, 4)])
    case("round_ste", lambda a: a + (torch.round(a) - a).detach(), [r(3, 4) * 3])

    # FP16 / BF16: values on the float32 grid, so torch's double->half (through float) rounds once.
    vals = torch.cat([torch.randn(300) * 10.0 ** torch.randint(-7, 5, (300,)), torch.tensor(
        [65504.0, 65519.0, 65520.0, 1e-8, 2.0 ** -25, 3 * 2.0 ** -26, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11])])
    vals = vals.to(torch.float32).to(DT)
    out.write("case half_rounding\n")
    emit_tensor("x", vals)
    emit_tensor("fp16", vals.to(torch.float16).to(DT))
    emit_tensor("bf16", vals.to(torch.bfloat16).to(DT))
    out.write("end\n")

    optimiser_trajectories()


def optimiser_trajectories():
    """A linear regression trained 30 steps with AdamW (warm-up schedule, clipping) and with SGD."""
    x = r(16, 4)
    y = r(16, 3)
    w0 = r(3, 4) * 0.5
    b0 = r(3) * 0.5
    for name in ("adamw", "sgd"):
        w = w0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        if name == "adamw":
            opt = torch.optim.AdamW([w, b], lr=0.05, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / 5))
        else:
            opt = torch.optim.SGD([w, b], lr=0.05, momentum=0.9, weight_decay=0.01)
            sched = None
        losses, norms = [], []
        for _ in range(30):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(torch.nn.functional.linear(x, w) + b, y)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_([w, b], 0.5)))
            opt.step()
            if sched:
                sched.step()
            losses.append(float(loss))
        out.write(f"case traj_{name}\n")
        emit_tensor("x", x)
        emit_tensor("y", y)
        emit_tensor("w0", w0)
        emit_tensor("b0", b0)
        emit_tensor("losses", torch.tensor(losses, dtype=DT))
        emit_tensor("norms", torch.tensor(norms, dtype=DT))
        emit_tensor("w", w)
        emit_tensor("b", b)
        out.write("end\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()

#!/usr/bin/python3
"""Fixture for intactkv.model.text.Sampler: the probability vector the next token is drawn from,
for fixed logits, a fixed list of previous tokens and a dozen generation settings, computed in
float64 PyTorch from the definitions of Hugging Face transformers 4.36.0's logits processors and
warpers (written here from their definitions; transformers is not imported):

  RepetitionPenaltyLogitsProcessor  s_t -> s_t * r if s_t < 0 else s_t / r, for each distinct
                                    previous token t (gather, then scatter)
  greedy (do_sample False)          one-hot at argmax of the processed scores (first on a tie)
  TemperatureLogitsWarper           s / T                       (when T != 1)
  TopKLogitsWarper                  s < k-th largest -> -inf    (when k != 0; k = min(max(k,1), V))
  TopPLogitsWarper                  sort ascending, softmax, cumsum; remove cum <= 1 - p,
                                    never the largest           (when p < 1)
  then softmax.

The order is generation/utils.py::_get_logits_processor (repetition penalty) followed by
_get_logits_warper (temperature, top-k, top-p), min_tokens_to_keep 1 (one beam).

Run: /usr/bin/python3 tools/oracle/sampling_fixture.py > model/src/test/resources/oracle/sampling/sampling.tsv
One line per setting, tab-separated:
  name do_sample temperature top_k top_p repetition_penalty logits previous probabilities
(lists comma-separated, numbers as Python repr, exact in double).
"""
import sys

import torch

torch.set_default_dtype(torch.float64)


def penalize(s, previous, r):
    if r == 1.0 or not previous:
        return s
    ids = torch.tensor(previous, dtype=torch.long)
    score = torch.gather(s, 0, ids)
    score = torch.where(score < 0, score * r, score / r)
    return s.scatter(0, ids, score)


def warp(s, t, k, p):
    if t != 1.0:
        s = s / t
    if k != 0:
        k = min(max(k, 1), s.numel())
        kth = torch.topk(s, k)[0][-1]
        s = s.masked_fill(s < kth, float("-inf"))
    if p < 1.0:
        sorted_s, idx = torch.sort(s, descending=False, stable=True)
        cum = sorted_s.softmax(-1).cumsum(-1)
        remove = cum <= (1 - p)
        remove[-1:] = False
        # no decision may hinge on rounding: every cumulative sum is well away from the cut
        margin = (cum[:-1] - (1 - p)).abs().min().item() if cum.numel() > 1 else 1.0
        assert margin > 1e-9, ("top-p cut too close to a cumulative sum", p, margin)
        s = s.masked_fill(remove.scatter(0, idx, remove), float("-inf"))
    return s


def distribution(logits, previous, do_sample, t, k, p, r):
    s = penalize(logits.clone(), previous, r)
    if not do_sample or t == 0:
        out = torch.zeros_like(s)
        out[torch.argmax(s)] = 1.0
        return out
    return warp(s, t, k, p).softmax(-1)


def fmt(xs):
    return ",".join(repr(float(x)) if isinstance(x, float) or torch.is_tensor(x) else str(x) for x in xs)


g = torch.Generator().manual_seed(2024)
logits = (torch.randn(32, generator=g) * 2.0)
# the argmax is among the previous tokens, so that the penalty can change the greedy choice
top = int(torch.argmax(logits))
neg = int(torch.argmin(logits))
previous = [top, 3, 3, neg, 17, 3, 29]
ties = torch.tensor([1.5, 0.25, 1.5, -0.5, 1.5, 0.0, -2.0, 0.75])

settings = [
    # name, logits, previous, do_sample, temperature, top_k, top_p, repetition_penalty
    ("greedy-defaults", logits, previous, False, 1.0, 50, 1.0, 1.0),
    ("greedy-penalty-1.5", logits, previous, False, 1.0, 50, 1.0, 1.5),
    ("greedy-temperature-ignored", logits, previous, False, 0.3, 5, 0.5, 1.0),
    ("sample-plain", logits, previous, True, 1.0, 0, 1.0, 1.0),
    ("sample-defaults-topk50", logits, previous, True, 1.0, 50, 1.0, 1.0),
    ("sample-t0.7-topk5", logits, previous, True, 0.7, 5, 1.0, 1.0),
    ("sample-t1.3-topp0.9", logits, previous, True, 1.3, 0, 0.9, 1.0),
    ("sample-t0.7-topk10-topp0.8", logits, previous, True, 0.7, 10, 0.8, 1.0),
    ("sample-topk50-topp0.6-penalty1.2", logits, previous, True, 1.0, 50, 0.6, 1.2),
    ("sample-t0.5-topk3-topp0.95-penalty0.8", logits, previous, True, 0.5, 3, 0.95, 0.8),
    ("sample-t2-topk1", logits, previous, True, 2.0, 1, 1.0, 1.0),
    ("sample-topp0.01", logits, previous, True, 1.0, 0, 0.01, 1.0),
    ("sample-t0.9-topp0.6-vicuna-like", logits, [], True, 0.9, 50, 0.6, 1.0),
    ("ties-topk2-keeps-all-tied", ties, [], True, 1.0, 2, 1.0, 1.0),
    ("ties-greedy-first", ties, [], False, 1.0, 50, 1.0, 1.0),
]

print("# torch", torch.__version__, "python", sys.version.split()[0])
for name, lg, prev, do_sample, t, k, p, r in settings:
    probs = distribution(lg, prev, do_sample, t, k, p, r)
    assert abs(float(probs.sum()) - 1.0) < 1e-12
    print(name, str(do_sample).lower(), repr(t), k, repr(p), repr(r), fmt(lg.tolist()), fmt(prev),
          fmt(probs.tolist()), sep="\t")
